#pragma once

// Where a consumer's derived state stands against the log it was built
// from, from its start until it has caught up.
//
// Begin() first checks that every stored position lies within the log. A
// position beyond the log's end means the log lost records the state
// reflects (a restored or truncated log directory, a power loss with fsync
// off): new records would land below the position and never be read, so
// that is DATA_LOSS with the figures, never a silent skip. Then the state
// is catching up until it reaches the ends the log had at Begin().
//
//   ASSIGN_OR_RETURN(auto progress,
//                    ReplayProgress::Begin(log, stored, "rollup state"));
//   progress->Advance(tp, record.offset + 1);   // consumer thread
//   absl::Status s = progress->Status();        // any thread

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/eventlog/event_log.h"

namespace strata::eventlog {

class ReplayProgress {
 public:
  // DATA_LOSS when a stored position lies beyond its partition's end, or
  // before its start (records the state never saw were removed).
  static absl::StatusOr<std::unique_ptr<ReplayProgress>> Begin(
      EventLog& log, const std::vector<Position>& stored,
      absl::string_view state_name);

  // The consumer will next read `next_offset` of `tp`. One thread only.
  void Advance(const TopicPartition& tp, int64_t next_offset);

  // OK once caught up, else UNAVAILABLE "<state>: catching up with the
  // log, 1200 of 5000 records replayed". Thread-safe.
  absl::Status Status() const;
  // Records replayed since Begin(), of the `total()` it had to catch up on.
  // Thread-safe.
  int64_t replayed() const { return replayed_.load(); }
  int64_t total() const { return total_; }

 private:
  struct Partition {
    int64_t start = 0;
    int64_t target = 0;  // The log's end at Begin().
    int64_t reached = 0;
  };
  ReplayProgress(std::string state_name,
                 absl::flat_hash_map<TopicPartition, Partition> partitions);

  const std::string state_name_;
  absl::flat_hash_map<TopicPartition, Partition> partitions_;
  int64_t total_ = 0;
  std::atomic<int64_t> replayed_{0};
};

}  // namespace strata::eventlog
