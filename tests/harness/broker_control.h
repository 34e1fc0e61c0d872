#pragma once

// Injects faults into a running kafka_mock_broker through its control
// directory (see tests/kafka_mock_broker.cc).
//
//   BrokerControl control(dir / "control");  // --control_dir of the broker
//   RETURN_IF_ERROR(control.Send("down 2"));
//   RETURN_IF_ERROR(control.Send("leader strata.kpi-events 3 1"));

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace strata::testing {

class BrokerControl {
 public:
  // Creates `dir` when missing.
  explicit BrokerControl(std::filesystem::path dir);

  // Hands the broker one command and waits for its answer: OK, or the
  // broker's error, or DEADLINE_EXCEEDED when it did not answer in time.
  absl::Status Send(const std::string& command,
                    absl::Duration timeout = absl::Seconds(10));

 private:
  std::filesystem::path dir_;
  int sent_ = 0;
};

}  // namespace strata::testing
