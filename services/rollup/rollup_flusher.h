#pragma once

// Makes the engine's folded state durable on a thread of its own, so that
// folding the next events overlaps with writing the last ones.
//
// For each batch, in order: commit cells, own states, event ids, log
// positions and the changelog records that show them (an outbox) in one
// WriteBatch, then publish those records on the changelog. Records a crash
// left unpublished are published first at the next start.
// One batch is in flight at a time; Submit waits for the previous one, which
// bounds memory and holds the engine back while the log or disk is down.

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "libs/aggregation/cell.h"
#include "libs/definitions/cell_id.h"
#include "libs/definitions/definitions.h"
#include "libs/eventlog/event_log.h"
#include "libs/status/health_report.h"
#include "services/rollup/rollup_store.h"
#include "strata/v1/rollup.pb.h"

namespace strata::rollup {

// What changed since the last batch, ready to write: the changelog records
// and the state changes, keys sorted (RocksDB's memtable takes sorted
// inserts far faster).
struct FlushBatch {
  std::vector<eventlog::AppendRecord> changelog;
  StateChanges changes;
  // The events applied or corrected, by id, for InFlight().
  absl::flat_hash_map<std::string, AppliedEvent> events;
  int64_t new_events = 0;  // Ids applied for the first time.
};

// Builds a batch from copies of the changed cells and own states, the
// records of derived KPIs (published, never stored), the parts of cells of
// fold partitions (stored, never published), the events applied
// (id -> fingerprint) and the positions reached, their records judged at
// `judged_at`. Cells with no event yet (marked for a new target only) are
// left out. Runs on the folding thread, which has time to spare while the
// flusher writes.
FlushBatch PrepareFlushBatch(
    const Definitions& definitions,
    const std::vector<std::pair<CellId, RollupCell>>& cells,
    const std::vector<std::pair<CellId, v1::RollupRecord>>& derived,
    const std::vector<std::pair<CellId, OwnState>>& own,
    std::vector<std::pair<std::string, RollupCell>> partials,
    absl::flat_hash_map<std::string, AppliedEvent> events, int64_t new_events,
    std::map<std::string, std::optional<int64_t>> own_events,
    std::vector<eventlog::Position> positions, absl::Time judged_at);

class RollupFlusher {
 public:
  // Publishes on `topic` (strata.rollups, or, folding routed events,
  // strata.rollup-partials); `committed_events` and `flushes` count what
  // became durable.
  RollupFlusher(eventlog::EventLog& log, RollupStore& store, std::string topic,
                std::atomic<int64_t>& committed_events,
                std::atomic<int64_t>& flushes);
  ~RollupFlusher();

  // Waits until the batch before is durable, then hands `batch` over.
  void Submit(FlushBatch batch);

  // The positions of the latest batch made durable since the last call,
  // or none: for reporting progress (the consumer group's position).
  std::vector<eventlog::Position> TakeDurablePositions();

  // Whether a batch is still being made durable.
  bool Busy();

  // UNAVAILABLE while a batch keeps failing (it is retried), else OK.
  absl::Status Health() const { return health_.Get(); }

  // Waits up to `timeout` until every submitted batch is durable; false
  // when one is still failing.
  bool Drain(absl::Duration timeout);

  // For a stop: waits up to `timeout` until every submitted batch is
  // durable or committed with its publishing failing (the next start
  // publishes it from the outbox, so waiting longer gains nothing); false
  // when one is not committed yet.
  bool DrainToCommitted(absl::Duration timeout);

  // Gives up on a batch still failing; the log replays it after a restart.
  void Stop();

  // Forgets the last batch once durable (Drain), so that InFlight no longer
  // answers from it: for a store emptied since. Submitting thread only.
  void ForgetDurable() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pending_) batch_ = FlushBatch();
  }

  // What the batch being made durable holds for `event_id`, or nullptr.
  // Only for the submitting thread: the batch changes only in Submit().
  const AppliedEvent* InFlight(absl::string_view event_id) const {
    auto it = batch_.events.find(event_id);
    return it == batch_.events.end() ? nullptr : &it->second;
  }

 private:
  void Run();
  // Commits the batch (once) and publishes it; retried until it succeeds.
  absl::Status Write(const FlushBatch& batch);
  absl::Status PublishOutbox(const std::vector<eventlog::AppendRecord>& records);
  // Publishes what the outbox still holds from before a restart.
  absl::Status PublishLeftOver();

  eventlog::EventLog& log_;
  RollupStore& store_;
  const std::string topic_;
  std::atomic<int64_t>& committed_events_;
  std::atomic<int64_t>& flushes_;
  HealthReport health_{absl::OkStatus()};

  std::mutex mu_;
  std::condition_variable cv_;
  FlushBatch batch_;
  bool pending_ = false;  // Guarded by mu_: batch_ awaits writing.
  std::vector<eventlog::Position> durable_;  // Guarded by mu_.
  bool stop_ = false;     // Guarded by mu_.
  bool committed_ = false;  // Flusher thread: batch_ is committed.
  // Guarded by mu_: batch_ is committed and its publishing failed.
  bool publish_failing_ = false;
  std::thread thread_;
};

}  // namespace strata::rollup
