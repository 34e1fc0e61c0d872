#include "services/ingest/rollup_lag_monitor.h"

#include <pthread.h>

#include <algorithm>

#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"

namespace strata::ingest {

RollupLagMonitor::RollupLagMonitor(eventlog::EventLog& log,
                                   std::string rollup_group, Clock& clock,
                                   absl::Duration refresh)
    : log_(log),
      rollup_group_(std::move(rollup_group)),
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
  ASSIGN_OR_RETURN(absl::Duration lag, Measure());
  lag_ms_.store(absl::ToInt64Milliseconds(lag), std::memory_order_relaxed);
  return absl::OkStatus();
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

absl::StatusOr<absl::Duration> RollupLagMonitor::Measure() {
  if (committed_reader_ == nullptr) {
    ASSIGN_OR_RETURN(committed_reader_, log_.NewConsumer(rollup_group_));
    // Its own group: reading records must not move rollup's positions.
    ASSIGN_OR_RETURN(record_reader_,
                     log_.NewConsumer(rollup_group_ + ".lag-probe"));
  }
  ASSIGN_OR_RETURN(int32_t partitions, log_.PartitionCount(kKpiEventsTopic));
  absl::Duration lag = absl::ZeroDuration();
  const absl::Time now = clock_.Now();
  for (int32_t p = 0; p < partitions; ++p) {
    const eventlog::TopicPartition tp{kKpiEventsTopic, p};
    ASSIGN_OR_RETURN(int64_t committed, committed_reader_->Committed(tp));
    ASSIGN_OR_RETURN(int64_t end, log_.EndOffset(tp));
    const int64_t first_pending = std::max<int64_t>(committed, 0);
    if (first_pending >= end) continue;
    RETURN_IF_ERROR(record_reader_->Assign({{tp, first_pending}}));
    ASSIGN_OR_RETURN(std::vector<eventlog::LogRecord> records,
                     record_reader_->Poll(1, absl::Milliseconds(100)));
    if (records.empty()) continue;
    lag = std::max(lag, now - absl::FromUnixMillis(records[0].timestamp_ms));
  }
  return lag;
}

}  // namespace strata::ingest
