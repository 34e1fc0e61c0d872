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
// earlier ones are dropped and the cells left with none retracted. Each poll's parts and records are committed in the
// CombinerStore with the positions they reflect, then published (an
// outbox). A new target republishes its cell.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/aggregation/cell.h"
#include "libs/clock/clock.h"
#include "libs/definitions/cell_id.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "libs/period/period.h"
#include "libs/status/health_report.h"
#include "libs/streams/topics.h"
#include "services/rollup/combiner_store.h"
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
};

// Counters, readable from any thread.
struct CellCombinerStats {
  std::atomic<int64_t> parts_applied{0};
  std::atomic<int64_t> parts_stale{0};  // Re-sent, or older than the kept.
  std::atomic<int64_t> records_published{0};
};

class CellCombiner {
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
  // (retried); DATA_LOSS when a part or the store cannot be read, and
  // OUT_OF_RANGE when a merge would leave its range: it then stops.
  absl::Status Health() const { return health_.Get(); }
  const CellCombinerStats& stats() const { return stats_; }

  // The merged cell as committed, or nullopt when no part reached it.
  // Thread-safe.
  absl::StatusOr<std::optional<RollupCell>> Read(const Definitions& defs,
                                                 const CellId& id) const;
  // Its public record, derived KPIs included (ReadPublicRecord).
  absl::StatusOr<std::optional<v1::RollupRecord>> ReadRecord(
      const Definitions& defs, const CellId& id, absl::Time judged_at) const;

 private:
  void Run();
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
  absl::Status PublishOutbox();
  void ReportPositions(const std::vector<eventlog::Position>& positions);

  const CellCombinerOptions options_;
  eventlog::EventLog& log_;
  DefinitionsFollower& definitions_;
  CombinerStore& store_;
  std::unique_ptr<eventlog::LogConsumer> consumer_;
  // The latest version epoch committed; queries read it too.
  std::atomic<int64_t> latest_epoch_{0};

  std::mutex retargeted_mu_;
  std::vector<CellId> retargeted_;  // Guarded by retargeted_mu_.
  DefinitionsFollower::Registration retargets_;

  HealthReport health_{absl::UnavailableError("rollup combine: starting")};
  CellCombinerStats stats_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace strata::rollup
