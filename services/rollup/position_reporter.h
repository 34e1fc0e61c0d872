#pragma once

// Reports a rollup stage's progress as its consumer group's positions,
// which lag and ingest's back-pressure read (the positions of record are
// in the stage's store). A report a commit could not make, as while the
// group rebalances, is made again with the next, or at the latest
// `retry_every` later when nothing new comes: otherwise a stage gone idle
// would look behind by its last records forever, and ingest would refuse
// every event.

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "libs/eventlog/event_log.h"

namespace strata::rollup {

// Used from the stage's thread only (group callbacks run inside its Poll).
class PositionReporter {
 public:
  // `name` prefixes logs; `consumer` (set before the first report)
  // outlives the reporter.
  PositionReporter(std::string name,
                   const std::unique_ptr<eventlog::LogConsumer>& consumer,
                   absl::Duration retry_every = absl::Milliseconds(500));

  // Reports `positions`, with what is still unreported; none:
  // RetryUnreported().
  void Report(const std::vector<eventlog::Position>& positions);
  // Reports again what failed, when due: for rounds with nothing new.
  void RetryUnreported();
  // Drops what is unreported of `partitions`: read elsewhere now, their
  // next reader reports them.
  void Forget(const std::vector<eventlog::TopicPartition>& partitions);

 private:
  void Commit();

  const std::string name_;
  const std::unique_ptr<eventlog::LogConsumer>& consumer_;
  const absl::Duration retry_every_;
  absl::flat_hash_map<eventlog::TopicPartition, eventlog::Position>
      unreported_;
  absl::Time last_attempt_ = absl::InfinitePast();
  bool failing_ = false;  // Logged once per run of failures.
};

}  // namespace strata::rollup
