#pragma once

// The unresolved alerts of one unit in one period, asked of the alerts
// service (AlertService.ListAlerts) without holding a thread while it
// answers. The scorecard shows them beside the figures.
//
//   OpenAlertsClient alerts([] { return channel; });
//   alerts.Fetch("team-7", period, [](absl::StatusOr<...> open) { ... });

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "strata/v1/alert.pb.h"
#include "strata/v1/period.pb.h"

namespace strata::rollup {

// Where the alerts service answers: the same process's server in the
// all-in-one, strata-alerts' address in a distributed deployment; null
// when none is configured (or the server is not up yet).
using AlertsChannel = std::function<std::shared_ptr<grpc::Channel>()>;

class OpenAlertsClient {
 public:
  using Done =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<v1::Alert>>) &&>;

  explicit OpenAlertsClient(AlertsChannel channel,
                            absl::Duration timeout = absl::Seconds(2))
      : channel_(std::move(channel)), timeout_(timeout) {}

  // Runs `done` once, on this thread or on one of gRPC's: with the alerts,
  // or FAILED_PRECONDITION when no alerts service is configured, or
  // UNAVAILABLE "alerts service: <why>" when it did not answer in time or
  // refused (catching up with the log, say).
  void Fetch(const std::string& unit_id, const v1::Period& period,
             Done done) const;

 private:
  const AlertsChannel channel_;
  const absl::Duration timeout_;
};

}  // namespace strata::rollup
