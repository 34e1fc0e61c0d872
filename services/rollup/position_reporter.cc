#include "services/rollup/position_reporter.h"

#include "libs/logging/log.h"

namespace strata::rollup {

PositionReporter::PositionReporter(
    std::string name, const std::unique_ptr<eventlog::LogConsumer>& consumer,
    absl::Duration retry_every)
    : name_(std::move(name)), consumer_(consumer), retry_every_(retry_every) {}

void PositionReporter::Report(
    const std::vector<eventlog::Position>& positions) {
  if (positions.empty()) return RetryUnreported();
  for (const eventlog::Position& position : positions) {
    auto [it, added] =
        unreported_.try_emplace(position.topic_partition, position);
    if (!added && position.offset > it->second.offset) it->second = position;
  }
  if (!unreported_.empty()) Commit();
}

void PositionReporter::RetryUnreported() {
  if (!unreported_.empty() && absl::Now() - last_attempt_ >= retry_every_) {
    Commit();
  }
}

void PositionReporter::Forget(
    const std::vector<eventlog::TopicPartition>& partitions) {
  for (const eventlog::TopicPartition& tp : partitions) unreported_.erase(tp);
}

void PositionReporter::Commit() {
  last_attempt_ = absl::Now();
  std::vector<eventlog::Position> positions;
  for (const auto& [tp, position] : unreported_) positions.push_back(position);
  if (absl::Status reported = consumer_->Commit(positions); !reported.ok()) {
    if (!failing_ && absl::IsUnavailable(reported)) {
      // As while the group rebalances: expected, and soon made good.
      STRATA_LOG(INFO) << name_ << ": reporting positions: " << reported
                       << "; reported again";
    } else if (!failing_) {
      STRATA_LOG(WARNING) << name_ << ": reporting positions: " << reported
                          << "; reported again";
    }
    failing_ = true;
    return;
  }
  if (failing_) STRATA_LOG(INFO) << name_ << ": positions reported again";
  failing_ = false;
  unreported_.clear();
}

}  // namespace strata::rollup
