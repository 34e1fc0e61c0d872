#pragma once

// The alerts service's state in RocksDB: the last actual, target and status
// seen per rollup cell with a target (or a feed schedule), when each cell is
// next due for something with time alone, every alert, an index from cell
// to its current alert, the numbered feed of alert changes that subscribers
// resume from, how far each KPI's feed schedule was checked, and the log
// positions all of that reflects, committed in one WriteBatch.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/eventlog/event_log.h"
#include "libs/scorecard/projection.h"
#include "libs/scorecard/status.h"
#include "libs/storage/state_db.h"
#include "strata/v1/alert.pb.h"

namespace strata::alerts {

// What the engine knows of one rollup cell that has a target.
struct CellStatus {
  double actual = 0;
  double target = 0;
  int64_t version = 0;  // Of the rollup record; older ones are repeats.
  KpiStatus status = KpiStatus::kUnknown;
  absl::Time judged_at = absl::InfinitePast();  // What `status` is as of.
  // When the status changes next with time alone, the actual standing
  // still (the part of the target expected grows); never: InfiniteFuture.
  absl::Time due = absl::InfiniteFuture();
  // When the earliest action on its alerts not applied yet was taken:
  // actions apply in time order with the cell's judgements.
  absl::Time action_due = absl::InfiniteFuture();
  // When its open, unacknowledged alert escalates next.
  absl::Time escalation_due = absl::InfiniteFuture();
  // Its score when last judged, and the best it had in the period since
  // its WORSENING alert was last resolved; NaN: none yet.
  double last_score = std::numeric_limits<double>::quiet_NaN();
  double best_score = std::numeric_limits<double>::quiet_NaN();
  // Since when it is red (InfiniteFuture: not red), and when that spell
  // without a corrective action raises NO_CORRECTIVE_ACTION.
  absl::Time red_since = absl::InfiniteFuture();
  absl::Time no_action_due = absl::InfiniteFuture();
  // Which rules other than STATUS_CHANGE have an alert open on the cell
  // (bit 1 << rule), so that a new figure loads only those.
  uint32_t open_rules = 0;
  // The recent pace its projection is made from, and whether the last
  // projection missed (a PROJECTED_MISS alert opens when it starts to).
  PaceWindow pace;
  bool projection_missed = false;
  // When its data is due by the KPI's feed schedule (STALE_FEED), while
  // nothing came; and whether that check was made (or made moot by data).
  absl::Time stale_due = absl::InfiniteFuture();
  bool feed_checked = false;
  // When the latest corrective action with a due date on it falls due, and
  // the alert it resolved (ACTION_OVERDUE): its rule and generation.
  absl::Time action_overdue_due = absl::InfiniteFuture();
  int32_t overdue_rule = 0;
  int64_t overdue_generation = 0;
};

// When the engine next has something to do for the cell.
inline absl::Time NextWake(const CellStatus& cell) {
  return std::min({cell.due, cell.action_due, cell.escalation_due,
                   cell.no_action_due, cell.stale_due,
                   cell.action_overdue_due});
}

// Per cell: the generation of its latest alert and whether that is open.
struct AlertIndex {
  int64_t generation = 0;
  bool open = false;
  // Since the latest alert was resolved: the best status the cell has had
  // (kUnknown before any resolution). A status worse than it reopens.
  KpiStatus best_since_resolved = KpiStatus::kUnknown;
};

struct AlertChanges {
  std::vector<std::pair<std::string, CellStatus>> cells;
  // Cells whose due time moved: (the one stored before, cell key).
  std::vector<std::pair<absl::Time, std::string>> unscheduled;
  std::vector<std::pair<std::string, AlertIndex>> index;
  std::vector<v1::Alert> alerts;
  // Actions waiting for their time, by cell key, in the order they apply;
  // and the cells whose waiting actions were all applied.
  std::vector<std::pair<std::string, std::vector<std::string>>> deferred;
  std::vector<std::string> undeferred;
  // Feed schedules (KPI id "/" cadence) checked further: the index of the
  // next period to check.
  std::vector<std::pair<std::string, int64_t>> feed_checks;
  std::vector<v1::Silence> silences;  // Created or changed.
  std::vector<eventlog::Position> positions;
};

class AlertStore {
 public:
  static absl::StatusOr<std::unique_ptr<AlertStore>> Open(
      const std::string& path);

  absl::StatusOr<std::optional<CellStatus>> GetCell(const std::string& key);
  // GetCell for many keys in one batched look-up.
  absl::StatusOr<std::vector<std::optional<CellStatus>>> GetCells(
      const std::vector<absl::string_view>& keys);
  absl::StatusOr<std::optional<AlertIndex>> GetIndex(const std::string& key);
  // GetIndex for many keys in one batched look-up.
  absl::StatusOr<std::vector<std::optional<AlertIndex>>> GetIndexes(
      const std::vector<absl::string_view>& keys);
  absl::StatusOr<std::optional<v1::Alert>> GetAlert(const std::string& id);
  // Up to `limit` cells due by `t`, earliest first.
  absl::StatusOr<std::vector<std::string>> CellsDueBy(absl::Time t,
                                                      size_t limit);
  // The earliest time a cell is due; InfiniteFuture when none is.
  absl::StatusOr<absl::Time> EarliestDue();
  // The actions on the cell's alerts (serialized envelopes, in the order
  // they apply) waiting for the cell's time to reach theirs.
  absl::StatusOr<std::vector<std::string>> DeferredActions(
      const std::string& cell_key);
  // Every alert, in id order.
  absl::StatusOr<std::vector<v1::Alert>> ListAlerts();
  // The index of the next period of a feed schedule (KPI id "/" cadence)
  // to check; nullopt before the first check.
  absl::StatusOr<std::optional<int64_t>> NextFeedCheck(
      const std::string& schedule);
  // Every silence, expired ones included, by id.
  absl::StatusOr<std::vector<v1::Silence>> ListSilences();
  absl::StatusOr<std::optional<v1::Silence>> GetSilence(const std::string& id);
  // Stored position of the partition, 0 when none.
  absl::StatusOr<eventlog::Position> Position(
      const eventlog::TopicPartition& tp);

  // Has the next Open() rebuild the store from the log (it was found
  // damaged while running).
  absl::Status MarkForRebuild(absl::string_view reason) {
    return db_->MarkForRebuild(reason);
  }

  // Commits `changes` in one batch; each changed alert is numbered in the
  // alert feed (its `sequence` set here) in the order given.
  absl::Status Commit(AlertChanges& changes);

  // The alert feed: every committed change of an alert, numbered from 1.
  // Numbers hold for this store only: a store rebuilt from the log numbers
  // anew, under another `feed_id`.
  const std::string& feed_id() const { return feed_id_; }
  // The number of the latest change; 0 before the first.
  int64_t last_sequence() const { return last_sequence_.load(); }
  // Up to `limit` changes numbered after `after`, in order.
  absl::StatusOr<std::vector<v1::Alert>> FeedAfter(int64_t after, size_t limit);

 private:
  AlertStore(std::unique_ptr<StateDb> db, std::string feed_id,
             int64_t last_sequence)
      : db_(std::move(db)),
        feed_id_(std::move(feed_id)),
        last_sequence_(last_sequence) {}

  // Up to `limit` alerts of `family` from key `from` on; `what` names an
  // entry that does not parse.
  absl::StatusOr<std::vector<v1::Alert>> ReadAlerts(size_t family,
                                                    absl::string_view from,
                                                    size_t limit,
                                                    absl::string_view what);

  std::unique_ptr<StateDb> db_;
  const std::string feed_id_;
  std::atomic<int64_t> last_sequence_;  // Written by Commit alone.
};

}  // namespace strata::alerts
