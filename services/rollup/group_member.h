#pragma once

// What the rollup stages share as members of their consumer groups
// (services/rollup/SCALE_OUT.md): taking partitions over from the positions
// their stores hold, and joining again after refusing an assignment.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/eventlog/event_log.h"
#include "libs/eventlog/replay_progress.h"
#include "libs/status/status_macros.h"

namespace strata::rollup {

// The positions `store` holds for `partitions`, DATA_LOSS when the log lost
// records they reflect (a restored or truncated log): reading on would skip
// what comes after them. `Store` has Position(const TopicPartition&).
template <typename Store>
absl::StatusOr<std::vector<eventlog::Position>> StoredPositionsWithinLog(
    Store& store, eventlog::EventLog& log,
    const std::vector<eventlog::TopicPartition>& partitions,
    absl::string_view state_name) {
  std::vector<eventlog::Position> positions;
  for (const eventlog::TopicPartition& tp : partitions) {
    ASSIGN_OR_RETURN(eventlog::Position stored, store.Position(tp));
    positions.push_back(stored);
  }
  RETURN_IF_ERROR(
      eventlog::ReplayProgress::Begin(log, positions, state_name).status());
  return positions;
}

// A listener whose TakeOver failing refuses the assignment, which leaves
// the group (LogConsumer::Subscribe); Rejoin joins it again.
class GroupMember : public eventlog::RebalanceListener {
 public:
  absl::StatusOr<std::vector<eventlog::Position>> Assigned(
      const std::vector<eventlog::TopicPartition>& partitions) final {
    absl::StatusOr<std::vector<eventlog::Position>> positions =
        TakeOver(partitions);
    if (!positions.ok()) left_group_ = true;
    return positions;
  }

 protected:
  // The positions to read `partitions` from, once their state is ready.
  virtual absl::StatusOr<std::vector<eventlog::Position>> TakeOver(
      const std::vector<eventlog::TopicPartition>& partitions) = 0;

  // Destroys `consumer`, which leaves the group and calls Revoked; Revoked
  // hands the partitions over through the consumer, so `consumer` still
  // points to it meanwhile. Once the polling thread has stopped.
  static void Leave(std::unique_ptr<eventlog::LogConsumer>& consumer) {
    if (consumer == nullptr) return;
    consumer.get_deleter()(consumer.get());
    consumer.release();
  }

  // After a refusal, subscribes `consumer` to `topic` again; true when it
  // did. On the thread that polls.
  absl::StatusOr<bool> Rejoin(eventlog::LogConsumer& consumer,
                              const std::string& topic) {
    if (!left_group_) return false;
    RETURN_IF_ERROR(consumer.Subscribe({topic}, *this));
    left_group_ = false;
    return true;
  }

 private:
  bool left_group_ = false;  // The polling thread only.
};

}  // namespace strata::rollup
