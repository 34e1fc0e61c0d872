#pragma once

// A real Prometheus Alertmanager (Debian's prometheus-alertmanager) on
// loopback for tests, with one receiver that notifies nobody, and its API
// read back.
//
//   AlertmanagerProcess alertmanager(dir);
//   ASSERT_OK(alertmanager.Start());
//   ... --alertmanager_url=alertmanager.url() ...
//   ASSERT_OK_AND_ASSIGN(auto firing, alertmanager.ActiveAlerts());

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/alerts/alertmanager_api.pb.h"
#include "tests/harness/child_process.h"

namespace strata::testing {

inline constexpr char kAlertmanagerBinary[] = "/usr/bin/prometheus-alertmanager";

class AlertmanagerProcess {
 public:
  // Its configuration, data and log go under `dir`.
  explicit AlertmanagerProcess(std::string dir) : dir_(std::move(dir)) {}

  // Starts it and waits until it is ready. FAILED_PRECONDITION when the
  // binary is missing (scripts/install-deps installs it).
  absl::Status Start();
  // Stops it; Start() brings it back on the same port and data.
  void Stop();

  std::string url() const;
  std::string Log() const;

  // GET /api/v2/alerts: the alerts it holds that have not ended.
  absl::StatusOr<std::vector<alerts::alertmanager::GettableAlert>>
  ActiveAlerts() const;

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace strata::testing
