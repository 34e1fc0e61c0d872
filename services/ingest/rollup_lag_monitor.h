#pragma once

// How far rollup trails the KPI events on the log, measured from the log
// itself, so that it works whether rollup runs in this process or another:
// for each partition, the age of the first record the rollup consumer
// group has not yet committed (rollup commits its group position after
// each flush). Ingest refuses new events while the lag exceeds its limit
// (back-pressure), rather than letting rollups fall minutes behind.
//
// Rollup runs whole (one group on strata.kpi-events) or scaled out (a
// group per stage, each on its input: services/rollup/SCALE_OUT.md); the
// lag of a way of running is its most behind stage's, and rollup's is the
// least of the ways': the one not running commits nothing and only ages.
//
//   RollupLagMonitor monitor(log, RollupPipelines(), Clock::Real());
//   monitor.Start();                    // measures every `refresh`
//   absl::Duration lag = monitor.Lag();  // the latest measurement

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/clock/clock.h"
#include "libs/eventlog/event_log.h"

namespace strata::ingest {

// A consumer group reading a topic, one stage of a way rollup runs.
struct LagStage {
  std::string group;
  std::string topic;
};
using LagPipeline = std::vector<LagStage>;

// Rollup's ways of running: whole, and scaled out.
std::vector<LagPipeline> RollupPipelines();

class RollupLagMonitor {
 public:
  RollupLagMonitor(eventlog::EventLog& log, std::vector<LagPipeline> pipelines,
                   Clock& clock,
                   absl::Duration refresh = absl::Milliseconds(250));
  ~RollupLagMonitor();

  void Start();
  void Stop();

  // The latest measurement: zero when rollup has committed everything.
  absl::Duration Lag() const {
    return absl::Milliseconds(lag_ms_.load(std::memory_order_relaxed));
  }
  // Where the latest measurement found the lag ("strata-rollup-route at
  // strata.kpi-events/3, offset 12 of 40"); empty when there is none.
  std::string LagWhere() const;

  // Measures now, on the caller's thread, and keeps the result for Lag().
  absl::Status Refresh();

 private:
  void Run();
  struct Behind {
    absl::Duration lag = absl::ZeroDuration();
    std::string where;  // Of the most behind partition.
  };
  absl::StatusOr<Behind> Measure();
  // The age of the oldest record of the stage's topic its group has not
  // committed, at `now`.
  absl::StatusOr<Behind> StageLag(const LagStage& stage, absl::Time now);

  eventlog::EventLog& log_;
  const std::vector<LagPipeline> pipelines_;
  Clock& clock_;
  const absl::Duration refresh_;
  // Per group: one that reads its committed positions, and one of its own
  // that reads records (reading must not move the group's positions).
  struct Readers {
    std::unique_ptr<eventlog::LogConsumer> committed;
    std::unique_ptr<eventlog::LogConsumer> records;
  };
  std::map<std::string, Readers> readers_;
  std::atomic<int64_t> lag_ms_{0};
  mutable std::mutex where_mu_;
  std::string where_;  // Guarded by where_mu_.

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // Guarded by mu_.
  std::thread thread_;
};

}  // namespace strata::ingest
