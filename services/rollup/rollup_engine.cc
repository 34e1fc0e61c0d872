#include "services/rollup/rollup_engine.h"

#include <pthread.h>

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_set.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "libs/aggregation/fixed_point.h"
#include "libs/aggregation/own_state.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/cell_key.h"
#include "libs/streams/kpi_event_identity.h"
#include "libs/streams/timestamps.h"
#include "libs/streams/topics.h"
#include "services/rollup/rollup_record.h"
#include "strata/v1/rollup.pb.h"

namespace strata::rollup {
namespace {

EventTime ToEventTime(const google::protobuf::Timestamp& t) {
  return {t.seconds(), t.nanos()};
}

// What passes (a store or disk that may recover) versus damage that replay
// would only meet again.
bool IsTransient(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsResourceExhausted(status);
}

}  // namespace

// An event of a poll, with its definitions resolved and where it was read.
struct RollupEngine::Located {
  const v1::KpiEvent* event;
  const eventlog::LogRecord* record;
  uint64_t fingerprint = 0;
  KpiIndex kpi = 0;
  UnitIndex unit = 0;
};

RollupEngine::RollupEngine(const RollupEngineOptions& options,
                           eventlog::EventLog& log,
                           DefinitionsFollower& definitions, RollupStore& store)
    : options_(options), log_(log), definitions_(definitions), store_(store) {
  retargets_ = definitions_.AddListener(
      [this](const Definitions& defs, const v1::DefinitionBatch& batch) {
        std::lock_guard<std::mutex> lock(retargeted_mu_);
        for (const v1::DefinitionChange& change : batch.changes()) {
          if (!change.has_target()) continue;
          // The batch applied, so its ids and period are valid.
          const CellId cell = defs.TargetCellOf(change.target());
          retargeted_.push_back(cell);
          if (!defs.TargetReachesBelow(cell)) continue;
          // Cascaded: every unit below may have a new target too.
          const absl::Span<const UnitIndex> children =
              defs.Children(cell.unit, cell.period);
          std::vector<UnitIndex> below(children.begin(), children.end());
          while (!below.empty()) {
            const UnitIndex unit = below.back();
            below.pop_back();
            retargeted_.push_back({cell.kpi, unit, cell.period});
            for (UnitIndex child : defs.Children(unit, cell.period)) {
              below.push_back(child);
            }
          }
        }
      });
}

RollupEngine::~RollupEngine() {
  retargets_ = {};  // No definitions callback from here on.
  Stop();
}

absl::Status RollupEngine::Start() {
  absl::Status started = StartConsuming();
  if (!started.ok()) health_.Set(started);
  return started;
}

absl::Status RollupEngine::StartConsuming() {
  ASSIGN_OR_RETURN(int32_t partitions, log_.PartitionCount(kKpiEventsTopic));
  RETURN_IF_ERROR(log_.PartitionCount(kRollupsTopic).status());
  ASSIGN_OR_RETURN(folded_reorgs_, store_.FoldedReorgs());
  // The shape to replay in: every reorg on the log so far.
  if (absl::Status caught_up = definitions_.CatchUp(absl::Seconds(10));
      !caught_up.ok()) {
    STRATA_LOG(WARNING) << "rollup: starting before the definitions caught up: "
                        << caught_up;
  }
  const int64_t reorgs = definitions_.Current()->reorg_count();
  if (reorgs != folded_reorgs_) {
    // Folded in another shape of the organisation: replayed in this one.
    ASSIGN_OR_RETURN(std::vector<std::string> keys, store_.CellKeys());
    RETURN_IF_ERROR(store_.Reshape(reorgs, keys));
    folded_reorgs_ = reorgs;
  }
  ASSIGN_OR_RETURN(std::vector<std::string> tombstones, store_.Tombstones());
  tombstones_due_ = !tombstones.empty();
  std::vector<eventlog::Position> positions;
  for (int32_t p = 0; p < partitions; ++p) {
    eventlog::TopicPartition tp{kKpiEventsTopic, p};
    ASSIGN_OR_RETURN(eventlog::Position position, store_.Position(tp));
    next_[p] = position;
    positions.push_back(position);
  }
  ASSIGN_OR_RETURN(std::shared_ptr<eventlog::ReplayProgress> progress,
                   eventlog::ReplayProgress::Begin(log_, positions,
                                                   "rollup state"));
  SetProgress(std::move(progress));
  RETURN_IF_ERROR(closings_.Load(partitions));
  ASSIGN_OR_RETURN(consumer_, log_.NewConsumer(options_.consumer_group));
  RETURN_IF_ERROR(consumer_->Assign(positions));
  // What the store holds is rolled up: reported at once, or a restart
  // would look like lag until the next flush.
  ReportPositions(positions);
  flusher_ = std::make_unique<RollupFlusher>(
      log_, store_, stats_.events_committed, stats_.flushes);
  health_.Set(absl::OkStatus());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rollup-engine");
    Run();
  });
  return absl::OkStatus();
}

void RollupEngine::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
}

absl::Status RollupEngine::Health() const {
  RETURN_IF_ERROR(health_.Get());
  if (flusher_ != nullptr) RETURN_IF_ERROR(flusher_->Health());
  return Progress()->Status();
}

void RollupEngine::Run() {
  Clock& clock = *options_.clock;
  absl::Time last_flush = clock.Now();
  absl::Duration restart_backoff = absl::Milliseconds(10);
  size_t pending = 0;  // Records and cells changed since the last hand-off.
  while (!stop_) {
    if (halted_) {
      absl::SleepFor(absl::Milliseconds(50));
      continue;
    }
    // Wait for records until the hand-off is due, in real-time steps of at
    // most 50 ms (100 ms idle), since the engine's clock may not be the one
    // the log waits by and Stop() should not wait long; once due (the
    // flusher still busy), in short steps rather than spinning.
    const absl::Duration wait =
        pending == 0
            ? absl::Milliseconds(100)
            : std::clamp(options_.flush_interval - (clock.Now() - last_flush),
                         absl::Milliseconds(5), absl::Milliseconds(50));
    auto records = consumer_->Poll(options_.poll_batch, wait);
    stats_.records_behind = consumer_->RecordsBehind();
    if (!records.ok()) {
      if (!IsTransient(records.status())) {
        Halt(records.status());
        continue;
      }
      health_.SetUnlessDamaged(absl::UnavailableError(absl::StrCat(
          "rollup: reading the log: ", records.status().message())));
      STRATA_LOG(WARNING) << "rollup: poll: " << records.status();
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    if (definitions_.Current()->reorg_count() != folded_reorgs_) {
      // The records just polled are read again, in the new shape.
      if (absl::Status reshaped = Reshape(pending); !reshaped.ok()) {
        Halt(reshaped);
      }
      pending = 0;
      continue;
    }
    if (pending == 0) last_flush = clock.Now();
    if (absl::Status folded = Fold(*records, pending); !folded.ok()) {
      if (IsTransient(folded)) {
        RestartFromCommitted(folded);
        pending = 0;
        // The same records come back at once: a store that keeps failing
        // is retried at a falling rate, not in a tight loop.
        absl::SleepFor(restart_backoff);
        restart_backoff = std::min(restart_backoff * 2, absl::Seconds(5));
      } else if (absl::IsDataLoss(folded)) {
        // The store cannot be read back: rebuilt at the next start.
        if (absl::Status marked = store_.MarkForRebuild(folded.message());
            !marked.ok()) {
          STRATA_LOG(ERROR) << "rollup: " << marked;
        }
        Halt(absl::DataLossError(absl::StrCat(folded.message(),
                                              "; restart to rebuild the rollup "
                                              "state from the log")));
      } else {
        Halt(folded);
      }
      continue;
    }
    // OK only once records fold again: not merely because a poll worked.
    if (Resumed()) health_.SetUnlessDamaged(absl::OkStatus());
    if (records->empty()) ReportProgress();
    restart_backoff = absl::Milliseconds(10);
    // While the flusher is still writing the last batch, keep folding: the
    // next batch coalesces more changes per cell. Wait for it only once
    // max_pending_events are pending.
    const bool due = clock.Now() - last_flush >= options_.flush_interval;
    const bool full = pending_events_.size() >= options_.max_pending_events;
    if (pending > 0 && (full || (due && !flusher_->Busy()))) {
      if (absl::Status handed = HandOff(); !handed.ok()) {
        RestartFromCommitted(handed);
      }
      pending = 0;
    }
    if (tombstones_due_ && pending == 0 && Progress()->Status().ok()) {
      if (absl::Status published = PublishTombstones(); !published.ok()) {
        STRATA_LOG(WARNING) << "rollup: publishing removed cells: " << published;
      }
    }
  }
  if (pending > 0 && !halted_) {
    if (absl::Status handed = HandOff(); !handed.ok()) {
      STRATA_LOG(WARNING) << "rollup: stopping with changes not handed off ("
                          << handed << "); the log replays them";
    }
  }
  if (!flusher_->Drain(absl::Seconds(10))) {
    STRATA_LOG(WARNING) << "rollup: stopping with a batch not yet durable; "
                           "the log replays it";
  }
  ReportProgress();
  flusher_->Stop();
}

absl::Status RollupEngine::Fold(const std::vector<eventlog::LogRecord>& records,
                                size_t& pending) {
  defs_ = definitions_.Current();
  RETURN_IF_ERROR(ApplyRecords(records));
  pending += records.size();
  ASSIGN_OR_RETURN(size_t retargeted, MarkRetargetedCells());
  pending += retargeted;
  return absl::OkStatus();
}

void RollupEngine::Halt(const absl::Status& cause) {
  STRATA_LOG(ERROR) << "rollup: stopped, not serving: " << cause;
  health_.Set(cause);
  halted_ = true;
}

absl::Status RollupEngine::Reshape(size_t pending) {
  const int64_t reorgs = definitions_.Current()->reorg_count();
  STRATA_LOG(INFO) << "rollup: the organisation was reshaped (reorg "
                   << reorgs << "); rolling the log up again in its shape";
  // Not serving from here: the store is about to be cleared, and until the
  // new replay begins the old one's progress would still say caught up.
  health_.SetUnlessDamaged(absl::UnavailableError(
      "rollup: the organisation was reshaped; rolling the log up again"));
  // What is folded in the old shape is made durable in it first, so that
  // every cell it published is known below.
  if (pending > 0) RETURN_IF_ERROR(HandOff());
  while (!flusher_->Drain(absl::Seconds(1))) {
    if (stop_) return absl::UnavailableError("rollup: stopping");
  }
  flusher_->ForgetDurable();
  ASSIGN_OR_RETURN(std::vector<std::string> keys, store_.CellKeys());
  RETURN_IF_ERROR(store_.Reshape(reorgs, keys));
  folded_reorgs_ = reorgs;
  tombstones_due_ = !keys.empty();
  std::vector<eventlog::Position> positions;
  for (auto& [partition, position] : next_) {
    position = {position.topic_partition, 0, 0};
    positions.push_back(position);
  }
  ASSIGN_OR_RETURN(std::shared_ptr<eventlog::ReplayProgress> progress,
                   eventlog::ReplayProgress::Begin(log_, positions,
                                                   "rollup state (reshaped)"));
  SetProgress(std::move(progress));
  RestartFromCommitted(absl::AbortedError("the organisation was reshaped"));
  return absl::OkStatus();
}

absl::Status RollupEngine::PublishTombstones() {
  // Every batch so far is durable: the store knows which cells exist.
  if (!flusher_->Drain(absl::ZeroDuration())) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<std::string> keys, store_.Tombstones());
  const std::shared_ptr<const Definitions> defs = definitions_.Current();
  std::vector<eventlog::AppendRecord> records;
  absl::flat_hash_set<CellId> removed;
  auto remove = [&](const CellId& id) {
    if (!removed.insert(id).second) return;
    v1::RollupRecord record =
        MakeEmptyRecord(*defs, id, options_.clock->Now());
    record.set_no_value_reason("no events since the organisation was reshaped");
    // Above every version folded in the old shape.
    record.set_version(folded_reorgs_ << kReorgVersionShift);
    records.push_back({CellKeyFor(*defs, id), record.SerializeAsString()});
  };
  auto exists = [&](const CellId& id) -> absl::StatusOr<bool> {
    ASSIGN_OR_RETURN(std::optional<RollupCell> cell,
                     store_.GetCell(CellKeyFor(*defs, id)));
    return cell.has_value();
  };
  for (const std::string& key : keys) {
    absl::StatusOr<CellKeyParts> parts = ParseCellKey(key);
    if (!parts.ok()) continue;
    std::optional<KpiIndex> kpi = defs->FindKpi(parts->kpi_id);
    std::optional<UnitIndex> unit = defs->FindUnit(parts->unit_id);
    if (!kpi || !unit) continue;
    const Period& period = parts->period;
    const CellId id{*kpi, *unit, period};
    ASSIGN_OR_RETURN(bool kept, exists(id));
    if (kept) continue;  // It exists in the new shape too.
    remove(id);
    // Derived cells are published, not stored: one goes with the last of
    // its inputs.
    for (KpiIndex derived : defs->kpi(*kpi).derived) {
      const KpiInfo& info = defs->kpi(derived);
      if (!info.periods.Contains(period.kind)) continue;
      ASSIGN_OR_RETURN(bool left, exists({info.formula->left, *unit, period}));
      ASSIGN_OR_RETURN(bool right,
                       exists({info.formula->right, *unit, period}));
      if (!left && !right) remove({derived, *unit, period});
    }
  }
  if (!records.empty()) RETURN_IF_ERROR(log_.Append(kRollupsTopic, records));
  RETURN_IF_ERROR(store_.DeleteTombstones(keys));
  tombstones_due_ = false;
  return absl::OkStatus();
}

std::shared_ptr<eventlog::ReplayProgress> RollupEngine::Progress() const {
  std::lock_guard<std::mutex> lock(progress_mu_);
  return progress_;
}

void RollupEngine::SetProgress(
    std::shared_ptr<eventlog::ReplayProgress> progress) {
  std::lock_guard<std::mutex> lock(progress_mu_);
  progress_ = std::move(progress);
}

void RollupEngine::RestartFromCommitted(const absl::Status& cause) {
  ++stats_.restarts;
  STRATA_LOG(WARNING) << "rollup: resuming from the committed state after: "
                      << cause;
  health_.SetUnlessDamaged(absl::UnavailableError(absl::StrCat(
      "rollup: resuming from the committed state after: ", cause.message())));
  // The batch in flight must be durable first, or its events would be
  // applied twice: once from it, once more from the replay.
  while (!flusher_->Drain(absl::Seconds(1))) {
    if (stop_) return;
  }
  {
    absl::MutexLock lock(&cells_mu_);
    cells_.Clear();
  }
  own_.Clear();
  pending_events_.clear();
  pending_own_events_.clear();
  new_events_ = 0;
  frontiers_.clear();
  pending_frontiers_.clear();
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop_) {
    absl::Status assigned = closings_.Load(static_cast<int32_t>(next_.size()));
    if (assigned.ok()) assigned = AssignCommittedPositions();
    if (assigned.ok()) {
      resuming_until_.clear();
      for (const auto& [partition, position] : next_) {
        // Unknown, the end is taken as reached: health then follows folds.
        absl::StatusOr<int64_t> end = log_.EndOffset(position.topic_partition);
        if (end.ok()) resuming_until_[partition] = *end;
      }
      return;
    }
    if (!IsTransient(assigned)) {
      Halt(assigned);
      return;
    }
    STRATA_LOG(WARNING) << "rollup: " << assigned << "; retrying";
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

absl::Status RollupEngine::AssignCommittedPositions() {
  std::vector<eventlog::Position> positions;
  for (auto& [partition, position] : next_) {
    ASSIGN_OR_RETURN(position, store_.Position(position.topic_partition));
    positions.push_back(position);
  }
  return consumer_->Assign(positions);
}

bool RollupEngine::Resumed() {
  for (const auto& [partition, end] : resuming_until_) {
    if (next_[partition].offset < end) return false;
  }
  resuming_until_.clear();
  return true;
}

absl::StatusOr<size_t> RollupEngine::MarkRetargetedCells() {
  std::vector<CellId> cells;
  {
    std::lock_guard<std::mutex> lock(retargeted_mu_);
    cells.swap(retargeted_);
  }
  if (cells.empty()) return 0;
  defs_ = definitions_.Current();
  absl::Status marked;
  {
    absl::MutexLock lock(&cells_mu_);
    for (CellId id : cells) {
      // A derived KPI is published with its inputs: mark the left one.
      if (const auto& formula = defs_->kpi(id.kpi).formula) {
        id.kpi = formula->left;
      }
      // Marked dirty, the cell is published again with its new target.
      marked =
          cells_
              .Mutable(id,
                       [&] { return store_.GetCell(CellKeyFor(*defs_, id)); })
              .status();
      if (!marked.ok()) break;
    }
  }
  if (!marked.ok()) {
    // Marked again after the restart that follows.
    std::lock_guard<std::mutex> lock(retargeted_mu_);
    retargeted_.insert(retargeted_.end(), cells.begin(), cells.end());
    return marked;
  }
  return cells.size();
}

absl::StatusOr<std::vector<std::pair<CellId, v1::RollupRecord>>>
RollupEngine::DerivedRecords(
    const std::vector<std::pair<CellId, RollupCell>>& changed,
    absl::Time judged_at) {
  const Definitions& defs = *defs_;
  std::vector<std::pair<CellId, v1::RollupRecord>> records;
  absl::flat_hash_set<CellId> done;
  auto input = [&](KpiIndex kpi, const CellId& at) {
    const CellId id{kpi, at.unit, at.period};
    return cells_.Get(id, [&] { return store_.GetCell(CellKeyFor(defs, id)); });
  };
  for (const auto& [id, cell] : changed) {
    for (KpiIndex derived : defs.kpi(id.kpi).derived) {
      const KpiInfo& info = defs.kpi(derived);
      const CellId derived_id{derived, id.unit, id.period};
      if (!info.periods.Contains(id.period.kind) ||
          !done.insert(derived_id).second) {
        continue;
      }
      // Copies: loading the other input may move the first.
      ASSIGN_OR_RETURN(const RollupCell* left_cell,
                       input(info.formula->left, id));
      const RollupCell left = *left_cell;
      ASSIGN_OR_RETURN(const RollupCell* right,
                       input(info.formula->right, id));
      if (left.version == 0 && right->version == 0) continue;
      records.emplace_back(derived_id,
                           MakeDerivedRecord(defs, derived_id, left, *right,
                                             judged_at));
    }
  }
  return records;
}

absl::Status RollupEngine::HandOff() {
  const absl::Time judged_at = options_.clock->Now();
  std::vector<std::pair<CellId, RollupCell>> cells;
  std::vector<std::pair<CellId, v1::RollupRecord>> derived;
  {
    absl::MutexLock lock(&cells_mu_);
    cells.reserve(cells_.dirty().size());
    for (const CellId& id : cells_.dirty()) {
      cells.emplace_back(id, cells_.at(id));
    }
    ASSIGN_OR_RETURN(derived, DerivedRecords(cells, judged_at));
    cells_.ClearDirty();
  }
  std::vector<std::pair<CellId, OwnState>> own;
  for (const CellId& id : own_.dirty()) own.emplace_back(id, own_.at(id));
  own_.ClearDirty();
  std::vector<eventlog::Position> positions;
  for (const auto& [partition, position] : next_) {
    positions.push_back(position);
  }
  FlushBatch batch = PrepareFlushBatch(
      *defs_, cells, derived, own, std::move(pending_events_), new_events_,
      std::move(pending_own_events_), std::move(positions), judged_at);
  pending_events_.clear();  // Valid but unspecified after the move.
  pending_own_events_.clear();
  new_events_ = 0;
  closings_.TakeChanges(batch.changes);
  batch.changes.frontiers.assign(pending_frontiers_.begin(),
                                 pending_frontiers_.end());
  pending_frontiers_.clear();
  flusher_->Submit(std::move(batch));
  ReportProgress();
  // Every batch before this one is durable now, so only this batch's
  // entries must stay: the store holds the rest exactly.
  {
    absl::MutexLock lock(&cells_mu_);
    if (cells_.size() > options_.max_cached_cells) {
      std::vector<CellId> keep;
      keep.reserve(cells.size());
      for (const auto& [id, cell] : cells) keep.push_back(id);
      cells_.RetainOnly(keep);
    }
  }
  if (own_.size() > options_.max_cached_cells) {
    std::vector<CellId> keep;
    keep.reserve(own.size());
    for (const auto& [id, state] : own) keep.push_back(id);
    own_.RetainOnly(keep);
  }
  return absl::OkStatus();
}

void RollupEngine::ReportProgress() {
  ReportPositions(flusher_->TakeDurablePositions());
}

void RollupEngine::ReportPositions(
    const std::vector<eventlog::Position>& positions) {
  // The group's position only reports progress (ingest's back-pressure
  // reads it); the store's is the one of record.
  if (positions.empty()) return;
  if (absl::Status reported = consumer_->Commit(positions); !reported.ok()) {
    STRATA_LOG(WARNING) << "rollup: reporting positions: " << reported;
  }
}

absl::Status RollupEngine::ApplyRecords(
    const std::vector<eventlog::LogRecord>& records) {
  google::protobuf::Arena arena;
  std::vector<Located> events;
  absl::flat_hash_map<int32_t, const eventlog::LogRecord*> last_of_partition;
  for (const eventlog::LogRecord& record : records) {
    // Hashed below, for the last record of each partition only.
    next_[record.topic_partition.partition] = {record.topic_partition,
                                               record.offset + 1, 0};
    last_of_partition[record.topic_partition.partition] = &record;
    auto* envelope =
        google::protobuf::Arena::CreateMessage<v1::EventEnvelope>(&arena);
    if (!envelope->ParseFromString(record.value)) {
      STRATA_LOG(ERROR) << "rollup: skipping malformed record "
                        << record.topic_partition.partition << "@"
                        << record.offset;
      ++stats_.events_rejected;
      continue;
    }
    if (envelope->has_kpi_events()) {
      for (const v1::KpiEvent& event : envelope->kpi_events().events()) {
        events.push_back({&event, &record});
      }
      continue;
    }
    // A close or a decision applies between the events before and after it.
    RETURN_IF_ERROR(ApplyEvents(events));
    events.clear();
    RETURN_IF_ERROR(ApplyControl(*envelope, record));
  }
  for (const auto& [partition, record] : last_of_partition) {
    next_[partition].previous_record_hash = StableHash(record->value);
  }
  RETURN_IF_ERROR(ApplyEvents(events));
  // Only now, with every record folded: queries may trust the engine once
  // it has caught up, so progress must not run ahead of the folding.
  for (const auto& [partition, record] : last_of_partition) {
    progress_->Advance(record->topic_partition, record->offset + 1);
  }
  return absl::OkStatus();
}

absl::Status RollupEngine::ApplyControl(const v1::EventEnvelope& envelope,
                                        const eventlog::LogRecord& record) {
  const int32_t partition = record.topic_partition.partition;
  if (envelope.has_period_closing()) {
    const v1::PeriodClosing& closing = envelope.period_closing();
    auto period = IsPeriodKind(closing.period().kind())
                      ? ParsePeriod(static_cast<PeriodKind>(closing.period().kind()),
                                    closing.period().label())
                      : absl::InvalidArgumentError("no period kind");
    if (!period.ok()) {
      STRATA_LOG(ERROR) << "rollup: skipping a malformed close at " << partition
                        << "@" << record.offset << ": " << period.status();
      return absl::OkStatus();
    }
    if (closings_.Reach(*period, closing.closed_by(), partition,
                        record.timestamp_ms)) {
      // Complete: the approvals that waited for it count now.
      ASSIGN_OR_RETURN(std::vector<v1::PendingEvent> approved,
                       closings_.ApprovedFor(*period));
      for (const v1::PendingEvent& pending : approved) {
        RETURN_IF_ERROR(ApplyApproved(pending));
      }
    }
    return absl::OkStatus();
  }
  if (envelope.has_pending_decision()) {
    return Decide(envelope.pending_decision(), partition);
  }
  return absl::OkStatus();  // Not for rollup.
}

absl::Status RollupEngine::Decide(const v1::PendingDecision& decision,
                                  int32_t partition) {
  ASSIGN_OR_RETURN(std::optional<v1::PendingEvent> pending,
                   closings_.Pending(decision.event_id()));
  if (!pending || pending->partition() != partition) {
    ++stats_.decisions_ignored;
    STRATA_LOG(WARNING) << "rollup: a decision on '" << decision.event_id()
                        << "', which does not wait; ignored";
    return absl::OkStatus();
  }
  if (!decision.approve()) {
    closings_.Forget(decision.event_id());
    ASSIGN_OR_RETURN(AppliedEvent * seen, PendingCopyOf(decision.event_id()));
    if (seen != nullptr) seen->state = AppliedEvent::State::kRejected;
    return absl::OkStatus();
  }
  if (pending->approved()) return absl::OkStatus();  // Approved twice.
  const auto closed = ParsePeriod(
      static_cast<PeriodKind>(pending->closed_period().kind()),
      pending->closed_period().label());
  if (closed.ok() && closings_.IsComplete(*closed)) {
    return ApplyApproved(*pending);
  }
  pending->set_approved(true);
  pending->set_decided_by(decision.decided_by());
  closings_.Hold(decision.event_id(), *pending);
  return absl::OkStatus();
}

absl::Status RollupEngine::ApplyApproved(const v1::PendingEvent& pending) {
  closings_.Forget(pending.event().event_id());
  const Definitions& defs = *defs_;
  Located located{&pending.event(), nullptr};
  located.fingerprint = KpiEventFingerprint(pending.event());
  // Held events were validated against the definitions already.
  located.kpi = *defs.FindKpi(pending.event().kpi_id());
  located.unit = *defs.FindUnit(pending.event().unit_id());
  absl::MutexLock lock(&cells_mu_);
  approving_ = true;
  absl::Status applied = pending.event().corrects_event_id().empty()
                             ? ApplyEvent(located, defs, /*first_seen=*/false)
                             : ApplyCorrection(located, defs, /*first_seen=*/false);
  approving_ = false;
  return applied;
}

absl::Status RollupEngine::Hold(const Located& located, const Period& closed) {
  const v1::KpiEvent& event = *located.event;
  AppliedEvent held{located.fingerprint, !event.corrects_event_id().empty()};
  if (!held.correction) {
    held.place = KpiEventPlace(event);
    held.value = ToFixedPoint(event.value());
  }
  held.state = AppliedEvent::State::kHeld;
  pending_events_[event.event_id()] = held;
  ++new_events_;
  ++stats_.events_held;
  v1::PendingEvent pending;
  *pending.mutable_event() = event;
  pending.mutable_closed_period()->set_kind(
      static_cast<v1::PeriodKind>(closed.kind));
  pending.mutable_closed_period()->set_label(PeriodLabel(closed));
  pending.mutable_received_time()->set_seconds(located.record->timestamp_ms /
                                               1000);
  pending.mutable_received_time()->set_nanos(
      static_cast<int32_t>(located.record->timestamp_ms % 1000) * 1'000'000);
  pending.set_partition(located.record->topic_partition.partition);
  closings_.Hold(event.event_id(), pending);
  return absl::OkStatus();
}

absl::Status RollupEngine::ApplyEvents(std::vector<Located>& events) {
  if (events.empty()) return absl::OkStatus();
  // What was committed under each id before: one batched look-up per poll.
  std::vector<absl::string_view> ids;
  ids.reserve(events.size());
  for (const Located& e : events) ids.push_back(e.event->event_id());
  ASSIGN_OR_RETURN(std::vector<std::optional<AppliedEvent>> committed,
                   store_.SeenEvents(ids));
  for (size_t i = 0; i < events.size(); ++i) {
    Located& located = events[i];
    located.fingerprint = KpiEventFingerprint(*located.event);
    // Pending ids also catch repeats within this poll; in-flight ones are
    // being committed right now.
    std::optional<uint64_t> first;
    if (committed[i]) first = committed[i]->fingerprint;
    if (auto it = pending_events_.find(ids[i]); it != pending_events_.end()) {
      first = it->second.fingerprint;
    } else if (const AppliedEvent* in_flight = flusher_->InFlight(ids[i])) {
      first = in_flight->fingerprint;
    }
    if (first) {
      if (*first == located.fingerprint) {
        ++stats_.events_duplicate;
        continue;
      }
      // Ingest refuses such reuse where it can see it; one that got through
      // (another ingest replica, a crash between append and index) loses to
      // the first copy, which the log orders first on every replay too.
      ++stats_.events_conflicting;
      STRATA_LOG(ERROR) << "rollup: event id '" << ids[i]
                        << "' reused with a different payload at "
                        << located.record->topic_partition.partition << "@"
                        << located.record->offset
                        << "; the first event with that id stands";
      continue;
    }
    std::optional<KpiIndex> kpi = defs_->FindKpi(located.event->kpi_id());
    std::optional<UnitIndex> unit = defs_->FindUnit(located.event->unit_id());
    if (!kpi || !unit) {
      // Ingest validated the event, so its definitions are on the log, just
      // not read yet: catch up once (not holding the cells' lock, which
      // queries take) before giving up on it.
      if (definitions_.CatchUp(absl::Seconds(10)).ok()) {
        defs_ = definitions_.Current();
        kpi = defs_->FindKpi(located.event->kpi_id());
        unit = defs_->FindUnit(located.event->unit_id());
      }
      if (!kpi || !unit) {
        STRATA_LOG(ERROR) << "rollup: event " << ids[i]
                          << " names an undefined KPI or unit; skipped";
        ++stats_.events_rejected;
        continue;
      }
    }
    if (defs_->kpi(*kpi).formula) {
      STRATA_LOG(ERROR) << "rollup: event " << ids[i] << " is for KPI '"
                        << located.event->kpi_id()
                        << "', which is computed by a formula; skipped";
      ++stats_.events_rejected;
      continue;
    }
    located.kpi = *kpi;
    located.unit = *unit;
    if (auto closed = closings_.ClosedFor(
            defs_->calendar(), FromTimestamp(located.event->event_time()),
            located.record->topic_partition.partition)) {
      RETURN_IF_ERROR(Hold(located, *closed));
      continue;
    }
    absl::MutexLock lock(&cells_mu_);
    if (located.event->corrects_event_id().empty()) {
      RETURN_IF_ERROR(ApplyEvent(located, *defs_, /*first_seen=*/true));
    } else {
      RETURN_IF_ERROR(ApplyCorrection(located, *defs_, /*first_seen=*/true));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<RollupCell>> RollupEngine::Read(
    const Definitions& defs, KpiIndex kpi, UnitIndex unit,
    const Period& period) const {
  {
    absl::ReaderMutexLock lock(&cells_mu_);
    if (const RollupCell* cell = cells_.Find({kpi, unit, period})) {
      // A cell marked for its target before any event reached it.
      if (cell->version == 0) return std::nullopt;
      return *cell;
    }
  }
  return store_.GetCell(CellKeyFor(defs, {kpi, unit, period}));
}

absl::StatusOr<std::optional<v1::RollupRecord>> RollupEngine::ReadRecord(
    const Definitions& defs, const CellId& id, absl::Time judged_at) const {
  const KpiInfo& kpi = defs.kpi(id.kpi);
  const absl::Time now = judged_at;
  // The figure as reported at a close, where approved events changed it.
  auto reported = [&](const v1::RollupRecord& current,
                      const v1::RollupRecord& at_close,
                      v1::RollupRecord& record) {
    if (at_close.value() == current.value() &&
        at_close.exact_value() == current.exact_value()) {
      return;
    }
    if (at_close.has_value()) record.set_reported_value(at_close.value());
    record.set_reported_exact_value(at_close.exact_value());
  };
  if (!kpi.formula) {
    ASSIGN_OR_RETURN(std::optional<RollupCell> cell,
                     Read(defs, id.kpi, id.unit, id.period));
    if (!cell) return std::nullopt;
    v1::RollupRecord record = MakeRollupRecord(defs, id, *cell, now);
    ASSIGN_OR_RETURN(std::optional<RollupCell> at_close,
                     closings_.Reported(CellKeyFor(defs, id)));
    if (at_close) {
      reported(record, MakeRollupRecord(defs, id, *at_close, now), record);
    }
    return record;
  }
  const CellId left_id{kpi.formula->left, id.unit, id.period};
  const CellId right_id{kpi.formula->right, id.unit, id.period};
  ASSIGN_OR_RETURN(std::optional<RollupCell> left,
                   Read(defs, left_id.kpi, id.unit, id.period));
  ASSIGN_OR_RETURN(std::optional<RollupCell> right,
                   Read(defs, right_id.kpi, id.unit, id.period));
  if (!left && !right) return std::nullopt;
  v1::RollupRecord record = MakeDerivedRecord(
      defs, id, left.value_or(RollupCell{}), right.value_or(RollupCell{}), now);
  ASSIGN_OR_RETURN(std::optional<RollupCell> left_at_close,
                   closings_.Reported(CellKeyFor(defs, left_id)));
  ASSIGN_OR_RETURN(std::optional<RollupCell> right_at_close,
                   closings_.Reported(CellKeyFor(defs, right_id)));
  if (left_at_close || right_at_close) {
    reported(record,
             MakeDerivedRecord(
                 defs, id, left_at_close.value_or(left.value_or(RollupCell{})),
                 right_at_close.value_or(right.value_or(RollupCell{})), now),
             record);
  }
  return record;
}

absl::StatusOr<Contribution> RollupEngine::OwnContributionOf(
    const Definitions& defs, KpiIndex kpi, UnitIndex unit,
    const Period& period) {
  const CellId id{kpi, unit, period};
  ASSIGN_OR_RETURN(const OwnState* own, own_.Get(id, [&] {
    return store_.GetOwn(CellKeyFor(defs, id));
  }));
  const KpiInfo& info = defs.kpi(kpi);
  Contribution c = OwnContribution(info.time_aggregation, *own);
  if (!info.weight || !c.present) return c;
  ASSIGN_OR_RETURN(const Contribution w,
                   OwnContributionOf(defs, *info.weight, unit, period));
  c.present = w.present;
  c.weight = w.value;
  return c;
}

absl::Status RollupEngine::Propagate(const Definitions& defs, KpiIndex kpi,
                                     UnitIndex unit, const Period& period,
                                     const Contribution& before,
                                     const Contribution& after,
                                     int64_t standing_delta,
                                     const EventTime& time, int64_t versions) {
  const HierarchyAggregation aggregation =
      defs.kpi(kpi).hierarchy_aggregation;
  auto load = [&](const CellId& id) {
    return [this, &defs, id] { return store_.GetCell(CellKeyFor(defs, id)); };
  };
  for (UnitIndex ancestor : defs.PathToRoot(unit, period)) {
    const CellId id{kpi, ancestor, period};
    ASSIGN_OR_RETURN(RollupCell * cell, cells_.Mutable(id, load(id)));
    if (approving_ && closings_.Keeps(defs.calendar(), period)) {
      RETURN_IF_ERROR(closings_.KeepReported(CellKeyFor(defs, id), *cell));
    }
    switch (ApplyContribution(aggregation, before, after, *cell)) {
      case CellUpdate::kApplied:
        break;
      case CellUpdate::kOverflow:
        return absl::OutOfRangeError(
            absl::StrCat("a change at ", CellKeyFor(defs, {kpi, unit, period}),
                         " takes ", CellKeyFor(defs, id),
                         " beyond the 128-bit range"));
      case CellUpdate::kRecompute: {
        // The children's cells are already up to date: this runs bottom-up.
        Contribution own = after;
        if (ancestor != unit) {
          ASSIGN_OR_RETURN(own, OwnContributionOf(defs, kpi, ancestor, period));
        }
        std::vector<RollupCell> children;
        for (UnitIndex child : defs.Children(ancestor, period)) {
          const CellId child_id{kpi, child, period};
          ASSIGN_OR_RETURN(const RollupCell* c,
                           cells_.Get(child_id, load(child_id)));
          if (c->contributors > 0) children.push_back(*c);
        }
        std::vector<const RollupCell*> pointers;
        for (const RollupCell& c : children) pointers.push_back(&c);
        // Loading the children may have moved the cell.
        ASSIGN_OR_RETURN(cell, cells_.Mutable(id, load(id)));
        RecomputeExtreme(aggregation, own, pointers, *cell);
        break;
      }
    }
    // Versions of each shape lie above those of the shapes before it.
    if (cell->version == 0) cell->version = folded_reorgs_ << kReorgVersionShift;
    NoteEvent(standing_delta, time, *cell);
    cell->version += versions - 1;
  }
  return absl::OkStatus();
}

absl::Status RollupEngine::ApplyEvent(const Located& located,
                                      const Definitions& defs,
                                      bool first_seen) {
  const v1::KpiEvent& event = *located.event;
  const int64_t value = ToFixedPoint(event.value());
  pending_events_[event.event_id()] =
      AppliedEvent{located.fingerprint, false, KpiEventPlace(event), value};
  if (first_seen) ++new_events_;
  RETURN_IF_ERROR(FoldChange(defs, located, std::nullopt, value));
  ++stats_.events_applied;
  return absl::OkStatus();
}

absl::StatusOr<AppliedEvent*> RollupEngine::PendingCopyOf(
    absl::string_view event_id) {
  if (auto it = pending_events_.find(event_id); it != pending_events_.end()) {
    return &it->second;
  }
  std::optional<AppliedEvent> found;
  if (const AppliedEvent* in_flight = flusher_->InFlight(event_id)) {
    found = *in_flight;
  } else {
    ASSIGN_OR_RETURN(std::vector<std::optional<AppliedEvent>> committed,
                     store_.SeenEvents({event_id}));
    found = committed[0];
  }
  if (!found) return nullptr;
  return &pending_events_.emplace(std::string(event_id), *found).first->second;
}

absl::Status RollupEngine::ApplyCorrection(const Located& located,
                                           const Definitions& defs,
                                           bool first_seen) {
  const v1::KpiEvent& correction = *located.event;
  auto reject = [&](absl::string_view why) {
    ++stats_.corrections_rejected;
    STRATA_LOG(ERROR) << "rollup: correction '" << correction.event_id()
                      << "' of event '" << correction.corrects_event_id()
                      << "' refused: " << why;
    return absl::OkStatus();
  };
  ASSIGN_OR_RETURN(AppliedEvent * original,
                   PendingCopyOf(correction.corrects_event_id()));
  if (original == nullptr || original->state == AppliedEvent::State::kRejected) {
    return reject("no such event was applied");
  }
  if (original->state == AppliedEvent::State::kHeld) {
    return reject("the event waits for a decision on its closed period");
  }
  if (original->correction) {
    return reject("it names a correction; name the event itself");
  }
  if (original->place != KpiEventPlace(correction)) {
    return reject("its KPI, unit or event time differ from the event's");
  }
  const std::optional<int64_t> before =
      original->voided ? std::nullopt : std::optional<int64_t>(original->value);
  const std::optional<int64_t> after =
      correction.voids() ? std::nullopt
                         : std::optional<int64_t>(ToFixedPoint(correction.value()));
  original->voided = !after.has_value();
  if (after) original->value = *after;
  // `original` may move once the correction is inserted.
  pending_events_[correction.event_id()] =
      AppliedEvent{located.fingerprint, true};
  if (first_seen) ++new_events_;
  ++stats_.events_applied;
  if (before == after) return absl::OkStatus();
  Located corrected = located;
  return FoldChange(defs, corrected, before, after);
}

absl::Status RollupEngine::FoldChange(const Definitions& defs,
                                      const Located& located,
                                      std::optional<int64_t> before,
                                      std::optional<int64_t> after) {
  const v1::KpiEvent& event = *located.event;
  const KpiInfo& info = defs.kpi(located.kpi);
  // The event a correction changes is the corrected one, under its id.
  const absl::string_view id = event.corrects_event_id().empty()
                                   ? event.event_id()
                                   : event.corrects_event_id();
  const EventTime time = ToEventTime(event.event_time());
  const bool indexed = IsIndexed(info);
  if (indexed) {
    pending_own_events_[OwnEventKey(OwnPrefix(defs, located.kpi, located.unit),
                                    time, id)] = after;
  }
  periods_.clear();
  defs.calendar().PeriodsContaining(FromTimestamp(event.event_time()),
                                    info.periods, periods_);
  if (info.carry_forward) {
    return CarryForward(defs, located, id, time, periods_, before, after);
  }
  for (const Period& period : periods_) {
    Contribution was, is;
    if (info.keeps_own_state) {
      ASSIGN_OR_RETURN(was, OwnContributionOf(defs, located.kpi, located.unit,
                                              period));
      const CellId cell{located.kpi, located.unit, period};
      ASSIGN_OR_RETURN(OwnState * own, own_.Mutable(cell, [&] {
        return store_.GetOwn(CellKeyFor(defs, cell));
      }));
      bool exact = true;
      if (before) exact = RemoveFromOwn(info.time_aggregation, {time, id, *before}, *own);
      if (exact && after) AddToOwn(info.time_aggregation, {time, id, *after}, *own);
      if (!exact) RETURN_IF_ERROR(RebuildOwn(defs, cell));
      ASSIGN_OR_RETURN(is, OwnContributionOf(defs, located.kpi, located.unit,
                                             period));
    } else {
      // Sums of sums and pooled means: the event's value is the change.
      if (before) was = {false, *before, 1, 0};
      if (after) is = {false, *after, 1, 0};
    }
    RETURN_IF_ERROR(Propagate(defs, located.kpi, located.unit, period, was, is,
                              int64_t{after.has_value()} - before.has_value(),
                              time));
    for (KpiIndex weighted : info.weighted) {
      RETURN_IF_ERROR(
          Reweigh(defs, weighted, located.unit, period, was, is, time));
    }
  }
  return absl::OkStatus();
}

absl::Status RollupEngine::CarryForward(const Definitions& defs,
                                        const Located& located,
                                        absl::string_view id,
                                        const EventTime& time,
                                        const std::vector<Period>& periods,
                                        std::optional<int64_t> before,
                                        std::optional<int64_t> after) {
  const KpiIndex kpi = located.kpi;
  const UnitIndex unit = located.unit;
  const KpiInfo& info = defs.kpi(kpi);
  for (PeriodKind kind : info.periods) {
    // The periods of this kind holding the event: one, or consecutive
    // to-date periods.
    int32_t first = 0, last = -1;
    bool any = false;
    for (const Period& p : periods) {
      if (p.kind != kind) continue;
      if (!any || p.index < first) first = p.index;
      if (!any || p.index > last) last = p.index;
      any = true;
    }
    if (!any) continue;
    ASSIGN_OR_RETURN(std::optional<int32_t> frontier,
                     FrontierOf(defs, kpi, kind));
    if (frontier && last > *frontier) {
      RETURN_IF_ERROR(AdvanceFrontier(defs, kpi, kind, *frontier, last));
    }
    const int32_t end = frontier ? std::max(*frontier, last) : last;
    SetFrontier(defs, kpi, kind, end);
    for (int32_t i = first; i <= end; ++i) {
      const Period period{kind, i};
      const CellId cell{kpi, unit, period};
      ASSIGN_OR_RETURN(const Contribution was,
                       OwnContributionOf(defs, kpi, unit, period));
      // What the period before passes on, as this change left it: to-date
      // periods overlap, so a period holding the event may carry in a value
      // the event made too.
      std::optional<int64_t> carried_in;
      if (i > first) {
        ASSIGN_OR_RETURN(const OwnState* previous,
                         own_.Get({kpi, unit, {kind, i - 1}}, [&] {
                           return store_.GetOwn(
                               CellKeyFor(defs, {kpi, unit, {kind, i - 1}}));
                         }));
        carried_in = LatestValue(*previous);
      }
      ASSIGN_OR_RETURN(OwnState * own, own_.Mutable(cell, [&] {
        return store_.GetOwn(CellKeyFor(defs, cell));
      }));
      // Every event up to a period's end counts in its versions.
      ++own->history;
      if (own->latest_time < time || own->history == 1) own->latest_time = time;
      if (i > first) {
        own->carried = carried_in.has_value();
        own->carried_value = carried_in.value_or(0);
      }
      bool exact = true;
      if (i <= last) {
        if (before) exact = RemoveFromOwn(info.time_aggregation, {time, id, *before}, *own);
        if (exact && after) AddToOwn(info.time_aggregation, {time, id, *after}, *own);
      }
      if (!exact) RETURN_IF_ERROR(RebuildOwn(defs, cell));
      ASSIGN_OR_RETURN(const Contribution is,
                       OwnContributionOf(defs, kpi, unit, period));
      const int64_t standing =
          i <= last ? int64_t{after.has_value()} - before.has_value() : 0;
      RETURN_IF_ERROR(
          Propagate(defs, kpi, unit, period, was, is, standing, time));
    }
  }
  return absl::OkStatus();
}

absl::Status RollupEngine::AdvanceFrontier(const Definitions& defs,
                                           KpiIndex kpi, PeriodKind kind,
                                           int32_t from, int32_t to) {
  // Every unit with a value by `from`'s end carries it into the new periods.
  for (UnitIndex unit = 0; unit < defs.unit_count(); ++unit) {
    const CellId source{kpi, unit, {kind, from}};
    ASSIGN_OR_RETURN(const OwnState* at_frontier, own_.Get(source, [&] {
      return store_.GetOwn(CellKeyFor(defs, source));
    }));
    if (at_frontier->history == 0) continue;
    const std::optional<int64_t> value = LatestValue(*at_frontier);
    const int64_t history = at_frontier->history;
    const EventTime latest = at_frontier->latest_time;
    for (int32_t i = from + 1; i <= to; ++i) {
      const CellId cell{kpi, unit, {kind, i}};
      ASSIGN_OR_RETURN(const Contribution was,
                       OwnContributionOf(defs, kpi, unit, cell.period));
      ASSIGN_OR_RETURN(OwnState * own, own_.Mutable(cell, [&] {
        return store_.GetOwn(CellKeyFor(defs, cell));
      }));
      own->history = history;
      own->latest_time = latest;
      own->carried = value.has_value();
      own->carried_value = value.value_or(0);
      ASSIGN_OR_RETURN(const Contribution is,
                       OwnContributionOf(defs, kpi, unit, cell.period));
      RETURN_IF_ERROR(Propagate(defs, kpi, unit, cell.period, was, is,
                                /*standing_delta=*/0, latest, history));
    }
  }
  return absl::OkStatus();
}

std::string RollupEngine::FrontierKey(const Definitions& defs, KpiIndex kpi,
                                      PeriodKind kind) {
  return absl::StrCat("frontier/", defs.kpi(kpi).definition.kpi_id(), "/",
                      static_cast<int>(kind));
}

absl::StatusOr<std::optional<int32_t>> RollupEngine::FrontierOf(
    const Definitions& defs, KpiIndex kpi, PeriodKind kind) {
  const std::string key = FrontierKey(defs, kpi, kind);
  if (auto it = frontiers_.find(key); it != frontiers_.end()) {
    return it->second;
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> stored, store_.Frontier(key));
  std::optional<int32_t> frontier;
  if (stored) frontier = static_cast<int32_t>(*stored);
  frontiers_[key] = frontier;
  return frontier;
}

void RollupEngine::SetFrontier(const Definitions& defs, KpiIndex kpi,
                               PeriodKind kind, int32_t index) {
  const std::string key = FrontierKey(defs, kpi, kind);
  auto it = frontiers_.find(key);
  if (it != frontiers_.end() && it->second == index) return;
  frontiers_[key] = index;
  pending_frontiers_[key] = index;
}

bool RollupEngine::IsIndexed(const KpiInfo& kpi) {
  return kpi.time_aggregation == TimeAggregation::kLast ||
         kpi.time_aggregation == TimeAggregation::kMin ||
         kpi.time_aggregation == TimeAggregation::kMax;
}

std::string RollupEngine::OwnPrefix(const Definitions& defs, KpiIndex kpi,
                                    UnitIndex unit) {
  return absl::StrCat(defs.kpi(kpi).definition.kpi_id(), "/",
                      defs.unit(unit).definition.unit_id(), "/");
}

absl::Status RollupEngine::RebuildOwn(const Definitions& defs,
                                      const CellId& cell) {
  // The store must hold every event but this hand-off's: the batch in
  // flight first becomes durable.
  while (!flusher_->Drain(absl::Seconds(1))) {
    if (stop_) return absl::UnavailableError("rollup: stopping");
  }
  const std::string prefix = OwnPrefix(defs, cell.kpi, cell.unit);
  const Calendar& calendar = defs.calendar();
  auto bound = [&](absl::Time t) {
    const timespec ts = absl::ToTimespec(t);
    return OwnEventBound(prefix, {ts.tv_sec, static_cast<int32_t>(ts.tv_nsec)});
  };
  const std::string begin = bound(calendar.Start(cell.period));
  const std::string end = bound(calendar.End(cell.period));
  ASSIGN_OR_RETURN(auto stored, store_.OwnEvents(begin, end));
  std::map<std::string, std::optional<int64_t>> events(stored.begin(),
                                                       stored.end());
  for (auto it = pending_own_events_.lower_bound(begin);
       it != pending_own_events_.end() && it->first < end; ++it) {
    events[it->first] = it->second;
  }
  OwnState rebuilt;
  const TimeAggregation aggregation = defs.kpi(cell.kpi).time_aggregation;
  for (const auto& [key, value] : events) {
    if (!value) continue;  // Voided.
    EventTime time;
    std::string id;
    if (!ParseOwnEventKey(key, prefix.size(), time, id)) {
      return absl::DataLossError(
          absl::StrCat("rollup: malformed own-event key under ", prefix));
    }
    AddToOwn(aggregation, {time, id, *value}, rebuilt);
  }
  ASSIGN_OR_RETURN(OwnState * own, own_.Mutable(cell, [&] {
    return store_.GetOwn(CellKeyFor(defs, cell));
  }));
  // What is carried in and the history up to the period's end stay.
  rebuilt.carried = own->carried;
  rebuilt.carried_value = own->carried_value;
  rebuilt.history = own->history;
  rebuilt.latest_time = own->latest_time;
  *own = std::move(rebuilt);
  return absl::OkStatus();
}

absl::Status RollupEngine::Reweigh(const Definitions& defs, KpiIndex weighted,
                                   UnitIndex unit, const Period& period,
                                   const Contribution& weight_before,
                                   const Contribution& weight_after,
                                   const EventTime& time) {
  if (!defs.kpi(weighted).periods.Contains(period.kind)) return absl::OkStatus();
  // The weight is already folded in: `after` pairs the unit's value (if it
  // has one) with its new weight.
  ASSIGN_OR_RETURN(Contribution after,
                   OwnContributionOf(defs, weighted, unit, period));
  Contribution before = after;
  before.present = after.count > 0 && weight_before.present;
  before.weight = weight_before.value;
  // Every weight change counts in the weighted cells' versions, even where
  // no value is weighed yet, so that versions do not depend on the order
  // the log's partitions are read in.
  return Propagate(defs, weighted, unit, period, before, after,
                   /*standing_delta=*/0, time);
}

}  // namespace strata::rollup
