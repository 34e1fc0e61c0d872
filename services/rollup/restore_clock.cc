#include "services/rollup/restore_clock.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "libs/logging/log.h"

namespace strata::rollup {

void RestoreClock::TookOver(const std::vector<int32_t>& partitions,
                            int64_t records) {
  if (partitions.empty()) return;  // A rebalance that moved nothing here.
  absl::MutexLock lock(&mu_);
  if (!running_) running_ = Running{clock_.Now(), {}, 0};
  running_->partitions.insert(running_->partitions.end(), partitions.begin(),
                              partitions.end());
  running_->records += records;
}

void RestoreClock::Check(bool restored) {
  if (!restored) return;
  absl::MutexLock lock(&mu_);
  if (!running_) return;
  const absl::Duration took = clock_.Now() - running_->since;
  std::sort(running_->partitions.begin(), running_->partitions.end());
  STRATA_LOG(INFO) << stage_ << ": restored " << topic_ << " ["
                   << absl::StrJoin(running_->partitions, ", ") << "] ("
                   << running_->records << " records) in " << took;
  figures_.restores += 1;
  figures_.last_ms = absl::ToInt64Milliseconds(took);
  figures_.max_ms = std::max(figures_.max_ms, figures_.last_ms);
  figures_.last_records = running_->records;
  running_.reset();
}

RestoreFigures RestoreClock::figures() const {
  absl::MutexLock lock(&mu_);
  return figures_;
}

}  // namespace strata::rollup
