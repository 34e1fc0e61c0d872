#pragma once

// Stage C (combine) of a scaled-out rollup (services/rollup/SCALE_OUT.md):
// reads every fold partition's parts of cells from strata.rollup-partials,
// keeps the latest part of each cell per fold partition, and publishes the
// merged cell (MergePartialCells), and the derived KPIs it feeds, on
// strata.rollups; queries read the merged cells here.
//
// A part replaces the one kept when its (version epoch, version) is
// higher; a re-sent or older one changes nothing. Cells merge the parts of
// the latest epoch seen (a reorg's replay folds everything again in a new
// one), and a cell's version is that epoch in the high bits plus the sum
// of its parts' versions, so it grows with every change whichever instance
// merges it. Once every fold partition completed an epoch, the parts of
// earlier ones are dropped and the cells left with none retracted. Each
// poll's parts and records are committed in the CombinerStore with the
// positions they reflect, then published (an outbox). A new target
// republishes its cell.
//
// Instances share the partitions of strata.rollup-partials as members of
// one consumer group. A partition assigned is restored: read from where
// the local store stands (the start, for a store that never read it) to
// the end it had when assigned, publishing nothing, since a merge of a
// partly read partition could be older than what its previous reader
// published. The cells changed from the group's position on (what the
// previous reader may not have published) are then published at once,
// merged as of the end. A partition revoked is handed over published; one
// lost (or whose records cannot be published) leaves its unpublished
// cells to the next reader, which publishes everything from the group's
// position on.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/aggregation/cell.h"
#include "libs/clock/clock.h"
#include "libs/definitions/cell_id.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "libs/period/period.h"
#include "libs/status/health_report.h"
#include "services/rollup/stage_loop.h"
#include "libs/streams/topics.h"
#include "services/rollup/cell_source.h"
#include "services/rollup/combiner_store.h"
#include "services/rollup/group_member.h"
#include "services/rollup/position_reporter.h"
#include "services/rollup/restore_clock.h"
#include "strata/v1/rollup.pb.h"

namespace strata::rollup {

// The partition of strata.rollup-partials for the parts of a cell of
// `unit_id` in `period`: every part of a cell, and the inputs of the
// derived KPIs of its unit and period, meet in one partition of stage C.
int32_t PartialsPartitionOf(absl::string_view unit_id, const Period& period,
                            int32_t partitions);

struct CellCombinerOptions {
  // Records taken from the log per poll, merged and committed together.
  size_t poll_batch = 1024;
  // Longest wait for records before checking for Stop() and new targets.
  absl::Duration poll_timeout = absl::Milliseconds(50);
  // Reports the positions (lag); those of record are in the store.
  std::string consumer_group = kRollupCombineConsumerGroup;
  // What records are judged at. Not owned.
  Clock* clock = &Clock::Real();
  // Called on the combine thread after each poll's commit, before it is
  // published: for tests that query in between.
  std::function<void()> on_committed;
};

// Counters, readable from any thread.
struct CellCombinerStats {
  std::atomic<int64_t> parts_applied{0};
  std::atomic<int64_t> parts_stale{0};  // Re-sent, or older than the kept.
  std::atomic<int64_t> records_published{0};
  // Records of the partitions read past the last poll.
  std::atomic<int64_t> records_behind{0};
};

class CellCombiner : public CellSource, private GroupMember {
 public:
  // Registers for definition changes: construct before the follower starts.
  CellCombiner(const CellCombinerOptions& options, eventlog::EventLog& log,
               DefinitionsFollower& definitions, CombinerStore& store);
  ~CellCombiner();

  // Publishes what a crash left in the outbox, then merges from the stored
  // positions on a thread of its own. DATA_LOSS when the store reflects
  // records the log no longer has.
  absl::Status Start();
  void Stop();

  // OK while merging; UNAVAILABLE while the log or store keeps failing
  // (retried) or a partition is being restored; DATA_LOSS when a part or
  // the store cannot be read, and OUT_OF_RANGE when a merge would leave its
  // range: it then stops.
  absl::Status Health() const override;
  // What records are judged at.
  absl::Time Now() const override { return options_.clock->Now(); }
  const CellCombinerStats& stats() const { return stats_; }
  // How long it took to restore the partitions it was assigned.
  RestoreFigures restores() const { return restore_clock_.figures(); }
  // The partitions of strata.rollup-partials this instance reads now.
  // Thread-safe.
  std::vector<int32_t> OwnedPartitions() const;

  // The merged cell as committed, or nullopt when no part reached it;
  // UNAVAILABLE when its partition is another instance's or restoring.
  // Thread-safe.
  absl::StatusOr<std::optional<RollupCell>> Read(const Definitions& defs,
                                                 const CellId& id) const;
  // Its public record, derived KPIs included (ReadPublicRecord).
  absl::StatusOr<std::optional<v1::RollupRecord>> ReadRecord(
      const Definitions& defs, const CellId& id,
      absl::Time judged_at) const override;

 private:
  // A partition of strata.rollup-partials this instance reads.
  struct OwnedPartition {
    int64_t next = 0;  // The next offset to read.
    // Restoring while `next` is below: the end when it was assigned.
    int64_t restore_until = 0;
    // The group's position when assigned: cells changed from there on are
    // published once restored.
    int64_t publish_from = 0;
    // The deferred cells are still to be published.
    bool flush_pending = true;

    bool restoring() const { return next < restore_until; }
    // The latest epoch every fold partition completed here, and swept: a
    // cell merges parts of epochs before the latest until it reaches it
    // (a reorg's replay under way), so its figure is partial.
    int64_t swept_epoch = 0;
  };

  // GroupMember: on the loop's thread, from inside Poll.
  absl::StatusOr<std::vector<eventlog::Position>> TakeOver(
      const std::vector<eventlog::TopicPartition>& partitions) override;
  void Revoked(const std::vector<eventlog::TopicPartition>& partitions) override;
  void Lost(const std::vector<eventlog::TopicPartition>& partitions) override;
  // Keeps the outbox's records of partitions still read; those of `given_up`
  // (unpublished) become deferred cells, published by the next reader of
  // their partition (from the group's position, which they lie beyond).
  absl::Status DeferOutboxOf(const std::vector<eventlog::TopicPartition>& given_up);
  // The partition of strata.rollup-partials of a cell key; -1 when malformed.
  int32_t PartitionOfKey(absl::string_view cell_key) const;
  // Owned, restored, and its deferred cells published.
  bool Publishing(int32_t partition) const;

  // Merges one poll's parts (and the cells whose target changed), commits
  // them and publishes the records.
  absl::Status CombineAndPublish(const std::vector<eventlog::LogRecord>& records);
  // Sweeps `partition` if every fold partition completed an epoch there
  // that was not swept yet.
  absl::Status SweepIfDue(const Definitions& defs, int32_t partition);
  // Every fold partition completed `epoch` in `partition`: drops the parts
  // of earlier epochs there and retracts the cells left with none.
  absl::Status Sweep(const Definitions& defs, int32_t partition,
                     int64_t epoch);
  // A part or a completed epoch of `epoch` was read.
  void NoteEpoch(int64_t epoch, CombineChanges& changes);
  // The latest epoch as this poll has read so far.
  int64_t PollEpoch(const CombineChanges& changes) const;
  absl::Status Rewind();
  // Whether a partition assigned is still being restored.
  bool AnyRestoring() const;
  // UNAVAILABLE while `owned`, `partition`'s, is restoring or has not
  // swept `latest_epoch`; `what` names what was asked.
  absl::Status Serves(int32_t partition, const OwnedPartition& owned,
                      int64_t latest_epoch, absl::string_view what) const;
  // The parts of `key`, read while `epoch` was the latest: UNAVAILABLE
  // when a new one began meanwhile (its parts may be among them).
  absl::StatusOr<CellParts> PartsOfEpoch(const std::string& key,
                                         int64_t epoch) const;
  absl::Status PublishOutbox();

  const CellCombinerOptions options_;
  eventlog::EventLog& log_;
  DefinitionsFollower& definitions_;
  CombinerStore& store_;
  std::unique_ptr<eventlog::LogConsumer> consumer_;
  PositionReporter reporter_{"rollup combine", consumer_};
  RestoreClock restore_clock_{"rollup combine", kRollupPartialsTopic};
  int32_t partitions_ = 0;  // Of strata.rollup-partials.
  mutable absl::Mutex owned_mu_;
  std::map<int32_t, OwnedPartition> owned_ ABSL_GUARDED_BY(owned_mu_);
  // The latest version epoch, raised before the commit that stores its
  // first parts; queries read it before and after the parts they merge.
  std::atomic<int64_t> latest_epoch_{0};

  std::mutex retargeted_mu_;
  std::vector<CellId> retargeted_;  // Guarded by retargeted_mu_.
  DefinitionsFollower::Registration retargets_;

  HealthReport health_{absl::UnavailableError("rollup combine: starting")};
  CellCombinerStats stats_;
  StageLoop loop_;
};

}  // namespace strata::rollup
