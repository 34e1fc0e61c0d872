#pragma once

// The one place an absl::Status becomes a grpc::Status (and back, for
// clients). Codes map one to one; the message carries field and reason.

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace strata {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace strata
