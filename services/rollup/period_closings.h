#pragma once

// The periods an organisation closed, as each partition of the event log
// has reached them, the events that wait for a decision because they came
// for a closed period after its close, and the cells as reported at a close.
//
// A close is a record in every partition; an event of a partition waits
// when its time lies in a period whose close that partition has passed.
// The close is complete once every partition has passed it: from then on,
// cells within the period change only through approved events, so the
// figure before the first approved change is the one reported at the close
// (kept lazily, KeepReported), whatever the order partitions were read in.
//
// A fold partition reading what stage A routed sees closes and decisions
// on its own (services/rollup/SCALE_OUT.md): its closings keep their keys
// in the store under a prefix of their own.
//
// Written by the engine's thread; Closed() and AllPending() also serve
// queries from other threads.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "libs/aggregation/cell.h"
#include "libs/period/calendar.h"
#include "services/rollup/rollup_store.h"
#include "strata/v1/closing_service.pb.h"
#include "strata/v1/events.pb.h"

namespace strata::rollup {

class PeriodClosings {
 public:
  // `key_prefix`: the store keys' (empty for the only closings).
  explicit PeriodClosings(RollupStore& store, std::string key_prefix = "")
      : store_(store), key_prefix_(std::move(key_prefix)) {}

  // Reads the closings from the store, forgetting what was not committed.
  absl::Status Load(int32_t partitions);

  // A close record read from `partition`, appended at `time_ms`. Returns
  // true when it completes the close.
  bool Reach(const Period& period, const std::string& closed_by,
             int32_t partition, int64_t time_ms);
  // The closed period an event at `time` read from `partition` falls in.
  std::optional<Period> ClosedFor(const Calendar& calendar, absl::Time time,
                                  int32_t partition) const;
  bool IsComplete(const Period& closed) const;
  // Whether cells of `period` lie within a complete close.
  bool Keeps(const Calendar& calendar, const Period& period) const;

  // Waiting events, by id.
  void Hold(const std::string& id, const v1::PendingEvent& pending);
  absl::StatusOr<std::optional<v1::PendingEvent>> Pending(const std::string& id);
  void Forget(const std::string& id);
  // The approved events waiting for `closed` to complete.
  absl::StatusOr<std::vector<v1::PendingEvent>> ApprovedFor(
      const Period& closed);

  // Keeps `before` as the cell's reported figure unless one is kept.
  absl::Status KeepReported(const std::string& cell_key,
                            const RollupCell& before);
  absl::StatusOr<std::optional<RollupCell>> Reported(
      const std::string& cell_key);

  // Moves what changed since the last call into `changes`.
  void TakeChanges(StateChanges& changes);

  // For queries, from any thread.
  std::vector<v1::ClosedPeriod> Closed() const;
  absl::StatusOr<std::vector<v1::PendingEvent>> AllPending();

 private:
  struct Closing {
    Period period;
    std::string closed_by;
    int64_t closed_time_ms = 0;
    std::vector<bool> reached;  // Per partition.
    bool complete() const;
  };
  static std::string Encode(const Closing& closing);
  static std::optional<Closing> Decode(const Period& period,
                                       absl::string_view encoded);
  // What a pending id holds in memory (this hand-off's, or the one being
  // committed): a value, none (forgotten), or nothing known (nullptr).
  const std::optional<std::string>* Overlay(const std::string& id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  RollupStore& store_;
  const std::string key_prefix_;
  std::string StoreKey(absl::string_view key) const {
    return absl::StrCat(key_prefix_, key);
  }
  mutable absl::Mutex mu_;
  int32_t partitions_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, Closing> closings_ ABSL_GUARDED_BY(mu_);  // By label.
  std::vector<std::string> changed_closings_ ABSL_GUARDED_BY(mu_);
  // Pending changes since the last TakeChanges, and those of the batch
  // handed off before, which may not be durable yet.
  std::map<std::string, std::optional<std::string>> pending_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::optional<std::string>> pending_in_flight_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, RollupCell> reported_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, RollupCell> reported_in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::rollup
