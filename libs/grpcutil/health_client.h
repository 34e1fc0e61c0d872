#pragma once

// Asks a server's standard health service (grpc.health.v1.Health/Check)
// whether it is SERVING. The request and answer are tiny, so they are
// encoded here rather than generated from a health.proto Debian lacks.

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"

namespace strata {

// True when the server reports SERVING for the whole server (service "").
absl::StatusOr<bool> CheckServing(const std::shared_ptr<grpc::Channel>& channel,
                                  absl::Duration timeout);

// Asks until the server is SERVING; UNAVAILABLE after `timeout`.
absl::Status WaitUntilServing(const std::shared_ptr<grpc::Channel>& channel,
                              absl::Duration timeout);

}  // namespace strata
