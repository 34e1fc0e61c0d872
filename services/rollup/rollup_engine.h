#pragma once

// Folds KPI events from the log into rollup cells through the org hierarchy
// and through every period kind each KPI keeps: an EventAcceptor decides
// what each event changes, CellFolders (one per fold partition) fold it,
// and the engine merges their parts per cell (services/rollup/SCALE_OUT.md).
//
// Events fold into an in-memory cache (read through from the store); every
// `flush_interval`, or once `max_pending_events` are pending, the changed
// cells, applied event ids and log positions go to the RollupFlusher, which
// publishes and commits them while the engine folds on. Published records
// carry the cell's target; a new target republishes its cell, so consumers
// (alerts) need no view of targets of their own.
//
// Failures (see the README's crash-or-handle table): a store read that
// fails while folding leaves the cache half updated, so the engine drops
// it and resumes from the committed state (UNAVAILABLE meanwhile); damage
// (a corrupt log record or store block, a sum leaving its range) stops the
// engine and Health() reports it (DATA_LOSS, OUT_OF_RANGE) until an
// operator acts. Health() is also UNAVAILABLE until the engine has caught
// up with the log as it was at Start().
//
// Routed (reading strata.rollup-changes), instances share its partitions,
// one part each, as members of one consumer group. A part assigned is
// restored by reading its partition from where the local store stands
// (its start, for a store that never read it): its parts' versions count
// the records folded, so what it publishes again is what stage C already
// holds, and changes nothing there. A part revoked or lost is handed off
// and made durable first, then forgotten.

#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/aggregation/cell.h"
#include "libs/clock/clock.h"
#include "libs/definitions/cell_id.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "libs/eventlog/replay_progress.h"
#include "libs/period/period.h"
#include "libs/status/health_report.h"
#include "libs/streams/topics.h"
#include "services/rollup/cell_folder.h"
#include "services/rollup/cell_source.h"
#include "services/rollup/event_acceptor.h"
#include "services/rollup/group_member.h"
#include "services/rollup/position_reporter.h"
#include "services/rollup/restore_clock.h"
#include "services/rollup/period_closings.h"
#include "services/rollup/rollup_flusher.h"
#include "services/rollup/rollup_record.h"
#include "services/rollup/rollup_stats.h"
#include "services/rollup/rollup_store.h"
#include "strata/v1/events.pb.h"
#include "strata/v1/rollup.pb.h"
#include "strata/v1/rollup_internal.pb.h"

namespace strata::rollup {

struct RollupEngineOptions {
  // Longest an applied event waits before it is published on the changelog
  // and committed; bounds how late alerts hear of it. Queries see folded
  // events at once. Longer intervals coalesce more changes of a cell.
  absl::Duration flush_interval = absl::Milliseconds(250);
  // Hand off early once this many events are pending, and wait for the
  // flusher if it is still busy (back-pressure).
  size_t max_pending_events = 200'000;
  // Records taken from the log per poll.
  size_t poll_batch = 1024;
  // Cells (and own states) the cache holds before it drops those already
  // durable, so memory stays bounded however many cells events reach
  // (about 100 bytes each). Queries read dropped cells from the store.
  size_t max_cached_cells = 2'000'000;
  // Units fold in this many partitions, each holding its units' part of
  // every cell they reach, merged per cell for queries and the changelog
  // (services/rollup/SCALE_OUT.md, stage B); 1: every cell whole. A store
  // folded into another number is rebuilt from the log.
  int32_t fold_partitions = 1;
  // What the engine reads: strata.kpi-events, or strata.rollup-changes,
  // where stage A (EventRouter) routed the events by unit; then one part
  // per partition of it (fold_partitions must be its partition count).
  std::string input_topic = kKpiEventsTopic;
  // Consumer group for position reporting (lag); positions of record are
  // those in the store.
  std::string consumer_group = kRollupConsumerGroup;
  // Decides when a hand-off is due. Not owned; the real clock by default.
  Clock* clock = &Clock::Real();
};

class RollupEngine : public CellSource, private GroupMember {
 public:
  // Registers for definition changes: construct before the follower starts.
  RollupEngine(const RollupEngineOptions& options, eventlog::EventLog& log,
               DefinitionsFollower& definitions, RollupStore& store);
  ~RollupEngine();

  // Resumes from the stored positions and starts the engine's thread.
  // DATA_LOSS when the store reflects records the log no longer has.
  absl::Status Start();
  // Flushes what is pending and stops the thread.
  void Stop();

  // OK when queries can trust the engine's answers; otherwise why not.
  absl::Status Health() const override;

  const RollupStats& stats() const { return stats_; }
  // The fold partitions read here: routed, those the group assigned to
  // this instance; otherwise all. Thread-safe.
  std::vector<int32_t> ReadParts() const;
  // How many parts it folds in (routed: partitions of its input topic).
  int32_t fold_partitions() const {
    return static_cast<int32_t>(acceptance_.size());
  }
  // Closed periods and the events that wait for a decision, per fold part
  // read here (`event_id` non-empty: only the event waiting under it), for
  // the closing service (Closings merges the parts); UNAVAILABLE when the
  // parts read changed meanwhile.
  absl::StatusOr<std::vector<v1::PartClosings>> ClosingsOfParts(
      const std::string& event_id) const;
  // How long it took to restore the parts it was assigned (and, whole, to
  // catch up at start).
  RestoreFigures restores() const { return restore_clock_.figures(); }
  // Log records replayed since Start(), of those it had to catch up on
  // ({0, 0} before Start()).
  std::pair<int64_t, int64_t> ReplayCounts() const {
    std::shared_ptr<eventlog::ReplayProgress> progress = Progress();
    if (progress == nullptr) return {0, 0};
    return {progress->replayed(), progress->total()};
  }

  // The latest folded state of a cell, whether durable yet or not (a crash
  // falls back to the committed state and replay restores the same values).
  // nullopt when no event has reached the cell. Thread-safe.
  absl::StatusOr<std::optional<RollupCell>> Read(const Definitions& defs,
                                                 KpiIndex kpi, UnitIndex unit,
                                                 const Period& period) const;

  // The public record of a cell, derived KPIs included, as Read sees it,
  // judged against its target at `judged_at` (now by default). nullopt
  // when no event has reached the cell (or either input's).
  absl::StatusOr<std::optional<v1::RollupRecord>> ReadRecord(
      const Definitions& defs, const CellId& id) const {
    return ReadRecord(defs, id, Now());
  }
  absl::StatusOr<std::optional<v1::RollupRecord>> ReadRecord(
      const Definitions& defs, const CellId& id,
      absl::Time judged_at) const override;
  // The engine's time: what records are judged at.
  absl::Time Now() const override { return options_.clock->Now(); }

 private:
  // GroupMember: on the engine's thread (routed), from inside Poll.
  absl::StatusOr<std::vector<eventlog::Position>> TakeOver(
      const std::vector<eventlog::TopicPartition>& partitions) override;
  void Revoked(const std::vector<eventlog::TopicPartition>& partitions) override;
  void Lost(const std::vector<eventlog::TopicPartition>& partitions) override;
  // Makes what is pending durable, then forgets the parts of `partitions`.
  void HandOver(const std::vector<eventlog::TopicPartition>& partitions);
  // Drops what memory holds of `part` (the store keeps its state).
  void ForgetPart(int32_t part);
  // Progress over the partitions read now, from their positions.
  absl::Status TrackProgress(absl::string_view state_name);
  // Engine thread: a hand-over's failure to resume from.
  std::optional<absl::Status> restart_due_;

  absl::Status StartConsuming();
  void Run();
  // Folds one poll's records and marked cells; adds to `pending` what
  // awaits the next hand-off.
  absl::Status Fold(const std::vector<eventlog::LogRecord>& records,
                    size_t& pending);
  // Hands one poll's records to the acceptor, noting the positions.
  absl::Status ApplyRecords(const std::vector<eventlog::LogRecord>& records);
  // ApplyRecords for records of strata.rollup-changes: the records A read
  // go to their part's acceptor as read.
  absl::Status ApplyRouted(const std::vector<eventlog::LogRecord>& records);
  // Folds a change that `acceptance_[stage]` accepted into the partition
  // of its unit (see EventAcceptor::ChangeSink).
  absl::Status FoldAccepted(size_t stage, const Definitions& defs,
                            const EventChange& change, bool approved_late);
  // Keeps `part`'s own part of a cell in a complete close as reported,
  // before it changes (routed).
  CellFolder::CellObserver KeepReportedIn(size_t part, const Definitions& defs);
  // Routed: the frontiers an event folded in `part` moves, for the other
  // parts (announced at the next hand-off).
  void NoteFrontiers(int32_t part, const Definitions& defs,
                     const EventChange& change);
  // Sends what NoteFrontiers noted and was not sent yet to the other parts
  // on strata.rollup-changes.
  absl::Status AnnounceFrontiers();
  // Carries `part`'s stocks to a frontier another part announced.
  absl::Status ReachAnnounced(int32_t part, const v1::StockFrontier& frontier);
  using FrontierOfPart = std::tuple<int32_t, KpiIndex, PeriodKind>;
  std::map<FrontierOfPart, int32_t> to_announce_;  // Engine thread.
  // What was announced since the last restart (a restart announces again).
  std::map<FrontierOfPart, int32_t> announced_;  // Engine thread.
  // The cell as reported at the close of its period, where approved events
  // changed it since; nullopt where none did.
  absl::StatusOr<std::optional<RollupCell>> ReportedCell(
      const Definitions& defs, const CellId& id) const;
  // Marks the cells whose target changed, for republishing; returns how many.
  absl::StatusOr<size_t> MarkRetargetedCells();
  // Hands what changed since the last hand-off to the flusher. Fails when a
  // derived KPI's input cannot be read: resume from the committed state.
  absl::Status HandOff();
  // The records of derived KPIs whose inputs are among `changed`.
  absl::StatusOr<std::vector<std::pair<CellId, v1::RollupRecord>>>
  DerivedRecords(const std::vector<std::pair<CellId, RollupCell>>& changed,
                 absl::Time judged_at);
  // Routed: the records of the parts that changed, for stage C, adding
  // them to `partials` for the store.
  absl::StatusOr<std::vector<eventlog::AppendRecord>> PartRecords(
      const std::vector<CellFolder::Changes>& parts,
      std::vector<std::pair<std::string, RollupCell>>& partials);
  // Where the flusher publishes: strata.rollups, or routed, the parts on
  // strata.rollup-partials.
  const char* PublishTopic() const {
    return routed() ? kRollupPartialsTopic : kRollupsTopic;
  }
  int32_t partials_partitions_ = 0;
  // Commits the durable positions to the consumer group (progress only).
  void ReportProgress();
  // The definitions reshaped the organisation: hands off what is pending,
  // empties the store (remembering its cells) and replays the log.
  absl::Status Reshape(size_t pending);
  // Publishes a record without a value for every cell of the former shape
  // that the new one does not have, so that consumers drop it.
  absl::Status PublishTombstones();
  // Drops the cache and resumes from the committed state.
  void RestartFromCommitted(const absl::Status& cause);
  absl::Status AssignCommittedPositions();
  // Returns once every batch handed off is durable; UNAVAILABLE when the
  // engine stops first.
  absl::Status WaitDurable();
  // Stops folding for good, reporting `cause`.
  void Halt(const absl::Status& cause);

  const RollupEngineOptions options_;
  eventlog::EventLog& log_;
  DefinitionsFollower& definitions_;
  RollupStore& store_;
  std::unique_ptr<eventlog::LogConsumer> consumer_;
  PositionReporter reporter_{"rollup", consumer_};
  RestoreClock restore_clock_{"rollup", options_.input_topic};
  // The loop's thread only: since when the epoch is complete here and not
  // yet said (real time).
  absl::Time epoch_due_since_ = absl::InfiniteFuture();
  std::unique_ptr<RollupFlusher> flusher_;
  // Replaced by Reshape, read by any thread.
  mutable std::mutex progress_mu_;
  std::shared_ptr<eventlog::ReplayProgress> progress_;  // Guarded.
  std::shared_ptr<eventlog::ReplayProgress> Progress() const;
  void SetProgress(std::shared_ptr<eventlog::ReplayProgress> progress);
  // Partitions of strata.kpi-events, which closes are reached in.
  int32_t source_partitions_ = 0;
  // The reorg count the state is folded for (Definitions::reorg_count).
  int64_t folded_reorgs_ = 0;
  // Versions of merged cells and tombstones start at epoch_ <<
  // kReorgVersionShift (RollupStore::Shape). Read by queries.
  std::atomic<int64_t> epoch_{0};
  // Empties the store for a replay for `reorgs` reorgs in this number of
  // parts, in a new version epoch; `cells` become tombstones.
  absl::Status Refold(int64_t reorgs, const std::vector<std::string>& cells);
  // Cells of a former shape may be gone: once caught up, publish those.
  bool tombstones_due_ = false;
  // Routed: once caught up in an epoch, tell stage C that every part of it
  // is published (v1::PartialCell::epoch_complete), so that it retracts
  // what the epoch lacks. Again at every start: C ignores repeats.
  bool epoch_complete_due_ = false;
  absl::Status PublishEpochComplete();
  // Where the log ended at the last RestartFromCommitted, per partition:
  // health returns to OK once folding gets there (past the records that
  // failed), not on an empty poll in between. Empty once resumed.
  absl::flat_hash_map<int32_t, int64_t> resuming_until_;
  bool Resumed();
  HealthReport health_{absl::UnavailableError("rollup: starting")};

  std::mutex retargeted_mu_;
  std::vector<CellId> retargeted_;  // Guarded by retargeted_mu_.
  DefinitionsFollower::Registration retargets_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> halted_{false};
  std::thread thread_;
  RollupStats stats_;

  // What decides which events count: one acceptor over strata.kpi-events,
  // or, reading what stage A routed, one per fold partition, each seeing
  // closes and decisions on its own, as separate instances will.
  struct Acceptance {
    std::unique_ptr<PeriodClosings> closings;
    std::unique_ptr<EventAcceptor> acceptor;
  };
  std::vector<Acceptance> acceptance_;
  // Routed, the parts this instance reads (the others' closes and held
  // events in the store may be out of date); whole, every one.
  mutable absl::Mutex read_parts_mu_;
  std::set<size_t> read_parts_ ABSL_GUARDED_BY(read_parts_mu_);
  bool routed() const { return options_.input_topic == kRollupChangesTopic; }
  // The definitions the acceptors resolve events in.
  const Definitions& defs() const {
    return *acceptance_[0].acceptor->definitions();
  }
  void RefreshDefinitions();
  // Ids decided since the last hand-off.
  size_t PendingEvents() const;
  // One per fold partition. Changed by the engine's thread under
  // parts_mu_, which queries hold shared, so that they merge parts as of
  // one moment; the engine's thread reads them without it.
  std::vector<std::unique_ptr<CellFolder>> folders_;
  mutable absl::Mutex parts_mu_;
  CellFolder& FolderOf(const Definitions& defs, UnitIndex unit);
  // The whole cell: the merge of every fold partition's part, with
  // `replacement` standing for `replaced`'s (a part about to change).
  absl::StatusOr<std::optional<RollupCell>> MergedCell(
      const Definitions& defs, const CellId& id,
      const CellFolder* replaced = nullptr,
      const RollupCell* replacement = nullptr) const;
  // Per partition: where the engine reads next, and the record before.
  absl::flat_hash_map<int32_t, eventlog::Position> next_;
};

}  // namespace strata::rollup
