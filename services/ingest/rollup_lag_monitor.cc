#include "services/ingest/rollup_lag_monitor.h"

#include <pthread.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"

namespace strata::ingest {

RollupLagMonitor::RollupLagMonitor(eventlog::EventLog& log,
                                   std::vector<LagPipeline> pipelines,
                                   Clock& clock, absl::Duration refresh)
    : log_(log),
      pipelines_(std::move(pipelines)),
      clock_(clock),
      refresh_(refresh) {}

RollupLagMonitor::~RollupLagMonitor() { Stop(); }

void RollupLagMonitor::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rollup-lag");
    Run();
  });
}

void RollupLagMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Status RollupLagMonitor::Refresh() {
  ASSIGN_OR_RETURN(Behind behind, Measure());
  {
    std::lock_guard<std::mutex> lock(where_mu_);
    where_ = std::move(behind.where);
  }
  lag_ms_.store(absl::ToInt64Milliseconds(behind.lag),
                std::memory_order_relaxed);
  return absl::OkStatus();
}

std::string RollupLagMonitor::LagWhere() const {
  std::lock_guard<std::mutex> lock(where_mu_);
  return where_;
}

void RollupLagMonitor::Run() {
  while (true) {
    if (absl::Status refreshed = Refresh(); !refreshed.ok()) {
      STRATA_LOG(WARNING) << "ingest: measuring rollup lag: " << refreshed;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, absl::ToChronoNanoseconds(refresh_),
                     [&] { return stop_; })) {
      return;
    }
  }
}

absl::StatusOr<RollupLagMonitor::Behind> RollupLagMonitor::Measure() {
  const absl::Time now = clock_.Now();
  std::optional<Behind> least;
  absl::Status failed;
  for (const LagPipeline& pipeline : pipelines_) {
    Behind most;
    absl::Status measured;
    for (const LagStage& stage : pipeline) {
      absl::StatusOr<Behind> behind = StageLag(stage, now);
      if (!behind.ok()) {
        measured = behind.status();
        break;
      }
      if (behind->lag > most.lag) most = *std::move(behind);
    }
    // A way whose topics are missing (a log made before it) is not running.
    if (!measured.ok()) {
      failed = measured;
      continue;
    }
    if (!least || most.lag < least->lag) least = std::move(most);
  }
  if (!least) return failed;
  return *std::move(least);
}

absl::StatusOr<RollupLagMonitor::Behind> RollupLagMonitor::StageLag(
    const LagStage& stage, absl::Time now) {
  Readers& readers = readers_[stage.group];
  if (readers.committed == nullptr) {
    ASSIGN_OR_RETURN(readers.committed, log_.NewConsumer(stage.group));
    ASSIGN_OR_RETURN(readers.records,
                     log_.NewConsumer(stage.group + ".lag-probe"));
  }
  ASSIGN_OR_RETURN(int32_t partitions, log_.PartitionCount(stage.topic));
  Behind behind;
  for (int32_t p = 0; p < partitions; ++p) {
    const eventlog::TopicPartition tp{stage.topic, p};
    ASSIGN_OR_RETURN(int64_t committed, readers.committed->Committed(tp));
    ASSIGN_OR_RETURN(int64_t end, log_.EndOffset(tp));
    const int64_t first_pending = std::max<int64_t>(committed, 0);
    if (first_pending >= end) continue;
    RETURN_IF_ERROR(readers.records->Assign({{tp, first_pending}}));
    ASSIGN_OR_RETURN(std::vector<eventlog::LogRecord> records,
                     readers.records->Poll(1, absl::Milliseconds(100)));
    if (records.empty()) continue;
    const absl::Duration lag =
        now - absl::FromUnixMillis(records[0].timestamp_ms);
    if (lag > behind.lag) {
      behind.lag = lag;
      behind.where = absl::StrCat(stage.group, " at ", stage.topic, "/", p,
                                  ", offset ", first_pending, " of ", end);
    }
  }
  return behind;
}

std::vector<LagPipeline> RollupPipelines() {
  return {{{kRollupConsumerGroup, kKpiEventsTopic}},
          {{kRollupRouteConsumerGroup, kKpiEventsTopic},
           {kRollupConsumerGroup, kRollupChangesTopic},
           {kRollupCombineConsumerGroup, kRollupPartialsTopic}}};
}

}  // namespace strata::ingest
