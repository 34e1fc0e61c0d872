#pragma once

// How far rollup trails the KPI events on the log, measured from the log
// itself, so that it works whether rollup runs in this process or another:
// for each partition, the age of the first record the rollup consumer
// group has not yet committed (rollup commits its group position after
// each flush). Ingest refuses new events while the lag exceeds its limit
// (back-pressure), rather than letting rollups fall minutes behind.
//
//   RollupLagMonitor monitor(log, "strata-rollup", Clock::Real());
//   monitor.Start();                    // measures every `refresh`
//   absl::Duration lag = monitor.Lag();  // the latest measurement

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/clock/clock.h"
#include "libs/eventlog/event_log.h"

namespace strata::ingest {

class RollupLagMonitor {
 public:
  RollupLagMonitor(eventlog::EventLog& log, std::string rollup_group,
                   Clock& clock,
                   absl::Duration refresh = absl::Milliseconds(250));
  ~RollupLagMonitor();

  void Start();
  void Stop();

  // The latest measurement: zero when rollup has committed everything.
  absl::Duration Lag() const {
    return absl::Milliseconds(lag_ms_.load(std::memory_order_relaxed));
  }

  // Measures now, on the caller's thread, and keeps the result for Lag().
  absl::Status Refresh();

 private:
  void Run();
  absl::StatusOr<absl::Duration> Measure();

  eventlog::EventLog& log_;
  const std::string rollup_group_;
  Clock& clock_;
  const absl::Duration refresh_;
  std::unique_ptr<eventlog::LogConsumer> committed_reader_;
  std::unique_ptr<eventlog::LogConsumer> record_reader_;
  std::atomic<int64_t> lag_ms_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // Guarded by mu_.
  std::thread thread_;
};

}  // namespace strata::ingest
