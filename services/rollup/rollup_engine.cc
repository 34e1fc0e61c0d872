#include "services/rollup/rollup_engine.h"

#include <pthread.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "absl/container/flat_hash_set.h"

#include "absl/strings/str_cat.h"
#include "libs/aggregation/cell_merge.h"
#include "libs/hash/stable_hash.h"
#include "libs/logging/log.h"
#include "libs/period/period.h"
#include "libs/status/status_macros.h"
#include "libs/streams/cell_key.h"
#include "libs/streams/timestamps.h"
#include "libs/streams/topics.h"
#include "services/rollup/cell_codec.h"
#include "services/rollup/cell_combiner.h"
#include "services/rollup/rollup_record.h"
#include "strata/v1/rollup.pb.h"
#include "strata/v1/rollup_internal.pb.h"

namespace strata::rollup {
namespace {

// What passes (a store or disk that may recover) versus damage that replay
// would only meet again.
bool IsTransient(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsResourceExhausted(status);
}

}  // namespace

RollupEngine::RollupEngine(const RollupEngineOptions& options,
                           eventlog::EventLog& log,
                           DefinitionsFollower& definitions, RollupStore& store)
    : options_(options),
      log_(log),
      definitions_(definitions),
      store_(store) {
  const int32_t parts = std::max(options_.fold_partitions, 1);
  for (int32_t p = 0; p < parts; ++p) {
    folders_.push_back(std::make_unique<CellFolder>(
        store_, FoldScope{p, parts}, [this] { return WaitDurable(); }));
  }
  const int32_t stages = routed() ? parts : 1;
  for (int32_t stage = 0; stage < stages; ++stage) {
    Acceptance& acceptance = acceptance_.emplace_back();
    // Routed, each part's closings keep their keys apart.
    acceptance.closings = std::make_unique<PeriodClosings>(
        store_, routed() ? PartialCellKey(stage, "") : "");
    acceptance.acceptor = std::make_unique<EventAcceptor>(
        store_, definitions_, *acceptance.closings, stats_,
        [this, stage](const Definitions& defs, const EventChange& change,
                      bool approved_late) {
          return FoldAccepted(stage, defs, change, approved_late);
        },
        [this](absl::string_view id) { return flusher_->InFlight(id); });
  }
  retargets_ = definitions_.AddListener(
      [this](const Definitions& defs, const v1::DefinitionBatch& batch) {
        std::vector<CellId> cells = RetargetedCells(defs, batch);
        std::lock_guard<std::mutex> lock(retargeted_mu_);
        retargeted_.insert(retargeted_.end(), cells.begin(), cells.end());
      });
}

RollupEngine::~RollupEngine() {
  retargets_ = {};  // No definitions callback from here on.
  Stop();
  // Leaves the group while the flusher still exists (Revoked, stopped,
  // finds everything handed off already).
  consumer_.reset();
}

absl::Status RollupEngine::Start() {
  absl::Status started = StartConsuming();
  if (!started.ok()) health_.Set(started);
  return started;
}

absl::Status RollupEngine::StartConsuming() {
  ASSIGN_OR_RETURN(source_partitions_, log_.PartitionCount(kKpiEventsTopic));
  ASSIGN_OR_RETURN(const int32_t partitions,
                   log_.PartitionCount(options_.input_topic));
  if (routed()) {
    ASSIGN_OR_RETURN(partials_partitions_,
                     log_.PartitionCount(kRollupPartialsTopic));
  }
  if (options_.input_topic == kRollupChangesTopic &&
      partitions != static_cast<int32_t>(folders_.size())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rollup: folding ", options_.input_topic, " takes one part per "
        "partition: ", partitions, " partitions, ", folders_.size(), " parts"));
  }
  // Routed, the parts go to stage C (CellCombiner), which publishes.
  RETURN_IF_ERROR(log_.PartitionCount(PublishTopic()).status());
  ASSIGN_OR_RETURN(const RollupStore::Shape folded, store_.FoldedShape());
  folded_reorgs_ = folded.reorgs;
  epoch_ = folded.version_epoch;
  // The shape to replay in: every reorg on the log so far.
  if (absl::Status caught_up = definitions_.CatchUp(absl::Seconds(10));
      !caught_up.ok()) {
    STRATA_LOG(WARNING) << "rollup: starting before the definitions caught up: "
                        << caught_up;
  }
  const int64_t reorgs = definitions_.Current()->reorg_count();
  const int32_t parts = static_cast<int32_t>(folders_.size());
  if (reorgs != folded.reorgs || parts != folded.fold_partitions ||
      options_.input_topic != folded.input_topic) {
    // Folded in another shape of the organisation, into another number of
    // parts or from another topic: replayed in this one.
    ASSIGN_OR_RETURN(std::vector<std::string> keys, store_.CellKeys());
    if (!keys.empty()) {
      STRATA_LOG(INFO) << "rollup: the state was folded for reorg "
                       << folded.reorgs << " in " << folded.fold_partitions
                       << " part(s); rolling the log up again for reorg "
                       << reorgs << " in " << parts;
    }
    RETURN_IF_ERROR(Refold(reorgs, keys));
  }
  for (auto& folder : folders_) folder->SetVersionEpoch(epoch_);
  ASSIGN_OR_RETURN(std::vector<std::string> tombstones, store_.Tombstones());
  tombstones_due_ = !tombstones.empty();
  epoch_complete_due_ = routed();
  std::vector<eventlog::Position> positions;
  for (int32_t p = 0; p < partitions; ++p) {
    eventlog::TopicPartition tp{options_.input_topic, p};
    ASSIGN_OR_RETURN(eventlog::Position position, store_.Position(tp));
    // Routed, a part is read once its partition is assigned (TakeOver).
    if (!routed()) next_[p] = position;
    positions.push_back(position);
  }
  // Routed, until the group assigns partitions, as one instance reading
  // them all would be: then over those assigned.
  ASSIGN_OR_RETURN(std::shared_ptr<eventlog::ReplayProgress> progress,
                   eventlog::ReplayProgress::Begin(log_, positions,
                                                   "rollup state"));
  if (!routed()) {
    std::vector<int32_t> all(partitions);
    std::iota(all.begin(), all.end(), 0);
    restore_clock_.TookOver(all, progress->total());
  }
  SetProgress(std::move(progress));
  for (Acceptance& acceptance : acceptance_) {
    RETURN_IF_ERROR(acceptance.closings->Load(source_partitions_));
  }
  ASSIGN_OR_RETURN(consumer_, log_.NewConsumer(options_.consumer_group));
  if (routed()) {
    RETURN_IF_ERROR(consumer_->Subscribe({options_.input_topic}, *this));
  } else {
    RETURN_IF_ERROR(consumer_->Assign(positions));
    // What the store holds is rolled up: reported at once, or a restart
    // would look like lag until the next flush.
    reporter_.Report(positions);
  }
  flusher_ = std::make_unique<RollupFlusher>(
      log_, store_, PublishTopic(), stats_.events_committed, stats_.flushes);
  health_.Set(absl::OkStatus());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rollup-engine");
    Run();
  });
  return absl::OkStatus();
}

absl::StatusOr<std::vector<eventlog::Position>> RollupEngine::TakeOver(
    const std::vector<eventlog::TopicPartition>& partitions) {
  ASSIGN_OR_RETURN(std::vector<eventlog::Position> positions,
                   StoredPositionsWithinLog(store_, log_, partitions,
                                            "rollup state"));
  std::string reading;
  for (const eventlog::Position& position : positions) {
    const int32_t part = position.topic_partition.partition;
    ForgetPart(part);
    RETURN_IF_ERROR(acceptance_[part].closings->Load(source_partitions_));
    absl::StrAppend(&reading, reading.empty() ? "" : ", ", part, " from ",
                    position.offset);
  }
  for (const eventlog::Position& position : positions) {
    next_[position.topic_partition.partition] = position;
  }
  STRATA_LOG(INFO) << "rollup: folding " << options_.input_topic << " "
                   << reading;
  RETURN_IF_ERROR(TrackProgress("rollup state"));
  {
    std::vector<int32_t> parts;
    for (const eventlog::Position& position : positions) {
      parts.push_back(position.topic_partition.partition);
    }
    restore_clock_.TookOver(parts, Progress()->total());
  }
  {
    // Read here once health says whether they caught up.
    absl::MutexLock lock(&read_parts_mu_);
    for (const eventlog::Position& position : positions) {
      read_parts_.insert(position.topic_partition.partition);
    }
  }
  // The new parts say so once caught up in the epoch.
  epoch_complete_due_ = true;
  reporter_.Report(positions);
  return positions;
}

void RollupEngine::Revoked(
    const std::vector<eventlog::TopicPartition>& partitions) {
  HandOver(partitions);
}

void RollupEngine::Lost(const std::vector<eventlog::TopicPartition>& partitions) {
  // Made durable all the same: what a part publishes depends only on the
  // records it folded, so its next reader publishes the same again.
  HandOver(partitions);
}

void RollupEngine::HandOver(
    const std::vector<eventlog::TopicPartition>& partitions) {
  if (stop_) return;  // Run handed everything off as it ended.
  // Revoked in the first poll, before any fold took definitions.
  RefreshDefinitions();
  absl::Status handed = HandOff();
  if (handed.ok()) handed = WaitDurable();
  if (!handed.ok()) {
    // Other parts' changes went with the failed batch.
    restart_due_ = handed;
  } else {
    ReportProgress();
  }
  reporter_.Forget(partitions);
  for (const eventlog::TopicPartition& tp : partitions) {
    ForgetPart(tp.partition);
    next_.erase(tp.partition);
    resuming_until_.erase(tp.partition);
    absl::MutexLock lock(&read_parts_mu_);
    read_parts_.erase(tp.partition);
  }
  if (absl::Status tracked = TrackProgress("rollup state"); !tracked.ok()) {
    restart_due_ = tracked;
  }
}

void RollupEngine::ForgetPart(int32_t part) {
  {
    absl::MutexLock lock(&parts_mu_);
    folders_[part]->Clear();
  }
  acceptance_[part].acceptor->Clear();
  for (auto* announced : {&to_announce_, &announced_}) {
    for (auto it = announced->begin(); it != announced->end();) {
      it = std::get<0>(it->first) == part ? announced->erase(it) : std::next(it);
    }
  }
}

absl::Status RollupEngine::TrackProgress(absl::string_view state_name) {
  std::vector<eventlog::Position> positions;
  for (const auto& [partition, position] : next_) positions.push_back(position);
  ASSIGN_OR_RETURN(std::shared_ptr<eventlog::ReplayProgress> progress,
                   eventlog::ReplayProgress::Begin(log_, positions, state_name));
  SetProgress(std::move(progress));
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
    // Caught up with what the last poll folded (or had nothing to read).
    restore_clock_.Check(Progress()->Status().ok());
    if (restart_due_) {
      // A hand-over failed: the records just read are read again.
      RestartFromCommitted(*std::exchange(restart_due_, std::nullopt));
      pending = 0;
      continue;
    }
    if (!records.ok()) {
      if (!IsTransient(records.status())) {
        Halt(records.status());
        continue;
      }
      if (routed()) {
        // Refused, an assignment left the group: joined again.
        if (absl::StatusOr<bool> rejoined =
                Rejoin(*consumer_, options_.input_topic);
            !rejoined.ok()) {
          STRATA_LOG(WARNING) << "rollup: joining the group: "
                              << rejoined.status();
        }
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
    const bool full = PendingEvents() >= options_.max_pending_events;
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
    if (!epoch_complete_due_) {
      epoch_due_since_ = absl::InfiniteFuture();
    } else if (Progress()->Status().ok()) {
      // Caught up in the epoch: said in an idle moment (nothing pending,
      // the last batch written), or after a second of a feed that never
      // pauses by handing off what it folded and waiting for it (stage C
      // serves none of the epoch until every part said so).
      const absl::Time now = absl::Now();
      epoch_due_since_ = std::min(epoch_due_since_, now);
      const bool overdue = now - epoch_due_since_ > absl::Seconds(1);
      if (pending == 0 || overdue) {
        if (pending > 0) {
          absl::Status handed = HandOff();
          pending = 0;
          if (!handed.ok()) {
            RestartFromCommitted(handed);
            continue;
          }
        }
        absl::Status published = overdue ? WaitDurable() : absl::OkStatus();
        if (published.ok()) published = PublishEpochComplete();
        if (!published.ok()) {
          STRATA_LOG(WARNING) << "rollup: publishing a complete epoch: "
                              << published;
        }
      }
    }
  }
  if (pending > 0 && !halted_) {
    if (absl::Status handed = HandOff(); !handed.ok()) {
      STRATA_LOG(WARNING) << "rollup: stopping with changes not handed off ("
                          << handed << "); the log replays them";
    }
  }
  if (!flusher_->DrainToCommitted(absl::Seconds(10))) {
    STRATA_LOG(WARNING) << "rollup: stopping with a batch not yet durable; "
                           "the log replays it";
  }
  ReportProgress();
  flusher_->Stop();
}

size_t RollupEngine::PendingEvents() const {
  size_t pending = 0;
  for (const Acceptance& acceptance : acceptance_) {
    pending += acceptance.acceptor->pending();
  }
  return pending;
}

void RollupEngine::RefreshDefinitions() {
  for (Acceptance& acceptance : acceptance_) acceptance.acceptor->Refresh();
}

absl::Status RollupEngine::Fold(const std::vector<eventlog::LogRecord>& records,
                                size_t& pending) {
  RefreshDefinitions();
  RETURN_IF_ERROR(ApplyRecords(records));
  pending += records.size();
  ASSIGN_OR_RETURN(size_t retargeted, MarkRetargetedCells());
  pending += retargeted;
  return absl::OkStatus();
}

absl::Status RollupEngine::WaitDurable() {
  while (!flusher_->Drain(absl::Seconds(1))) {
    if (stop_) return absl::UnavailableError("rollup: stopping");
  }
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
  RETURN_IF_ERROR(Refold(reorgs, keys));
  tombstones_due_ = !keys.empty();
  epoch_complete_due_ = routed();
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

absl::Status RollupEngine::Refold(int64_t reorgs,
                                  const std::vector<std::string>& cells) {
  RollupStore::Shape shape;
  shape.reorgs = reorgs;
  shape.fold_partitions = static_cast<int32_t>(folders_.size());
  shape.input_topic = options_.input_topic;
  // Above every version published before, when any was: the replay
  // publishes every cell again, from its first change. Routed, the epoch
  // is the reorg count, which every instance folding a partition agrees on
  // (stage C merges only parts of one epoch); the fold partitions, those
  // of strata.rollup-changes, never change within it, and a replay numbers
  // a part's changes as the live fold did.
  shape.version_epoch = routed() || cells.empty()
                            ? reorgs
                            : std::max(reorgs, epoch_.load() + 1);
  // Routed, stage C retracts what the new shape lacks (its sweep).
  RETURN_IF_ERROR(store_.Reshape(
      shape, routed() ? std::vector<std::string>{} : cells));
  folded_reorgs_ = reorgs;
  epoch_ = shape.version_epoch;
  for (auto& folder : folders_) folder->SetVersionEpoch(epoch_);
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
    record.set_version(epoch_ << kReorgVersionShift);
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

absl::Status RollupEngine::PublishEpochComplete() {
  // Every part of the epoch is published once every batch is durable and
  // the outbox a restart found is published too.
  if (!flusher_->Drain(absl::ZeroDuration())) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::vector<eventlog::AppendRecord> unpublished,
                   store_.Outbox());
  if (!unpublished.empty()) return absl::OkStatus();
  const int32_t parts = static_cast<int32_t>(folders_.size());
  std::vector<eventlog::AppendRecord> records;
  // Only the parts read here: another instance's may not have caught up.
  for (const auto& [p, position] : next_) {
    v1::PartialCell complete;
    complete.set_fold_partition(p);
    complete.set_version_epoch(epoch_);
    complete.set_epoch_complete(true);
    complete.set_fold_partitions(parts);
    for (int32_t c = 0; c < partials_partitions_; ++c) {
      records.push_back(
          {PartialCellKey(p, ""), complete.SerializeAsString(), c});
    }
  }
  RETURN_IF_ERROR(log_.Append(kRollupPartialsTopic, records));
  epoch_complete_due_ = false;
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
    absl::MutexLock lock(&parts_mu_);
    for (auto& folder : folders_) folder->Clear();
  }
  for (Acceptance& acceptance : acceptance_) acceptance.acceptor->Clear();
  to_announce_.clear();
  announced_.clear();
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop_) {
    absl::Status assigned;
    for (Acceptance& acceptance : acceptance_) {
      if (assigned.ok()) assigned = acceptance.closings->Load(source_partitions_);
    }
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
  return routed() ? consumer_->Seek(positions) : consumer_->Assign(positions);
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
  // Routed, stage C republishes them.
  if (cells.empty() || routed()) return 0;
  RefreshDefinitions();
  absl::Status marked;
  {
    absl::MutexLock lock(&parts_mu_);
    for (CellId id : cells) {
      // A derived KPI is published with its inputs: mark the left one.
      if (const auto& formula = defs().kpi(id.kpi).formula) {
        id.kpi = formula->left;
      }
      // Marked, the cell is published again with its new target.
      marked = FolderOf(defs(), id.unit).MarkChanged(defs(), id);
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
  const Definitions& defs = this->defs();
  std::vector<std::pair<CellId, v1::RollupRecord>> records;
  absl::flat_hash_set<CellId> done;
  auto input = [&](KpiIndex kpi,
                   const CellId& at) -> absl::StatusOr<RollupCell> {
    ASSIGN_OR_RETURN(std::optional<RollupCell> cell,
                     MergedCell(defs, {kpi, at.unit, at.period}));
    return cell.value_or(RollupCell{});
  };
  for (const auto& [id, cell] : changed) {
    for (KpiIndex derived : defs.kpi(id.kpi).derived) {
      const KpiInfo& info = defs.kpi(derived);
      const CellId derived_id{derived, id.unit, id.period};
      if (!info.periods.Contains(id.period.kind) ||
          !done.insert(derived_id).second) {
        continue;
      }
      ASSIGN_OR_RETURN(const RollupCell left, input(info.formula->left, id));
      ASSIGN_OR_RETURN(const RollupCell right, input(info.formula->right, id));
      if (left.version == 0 && right.version == 0) continue;
      records.emplace_back(derived_id,
                           MakeDerivedRecord(defs, derived_id, left, right,
                                             judged_at));
    }
  }
  return records;
}

absl::Status RollupEngine::HandOff() {
  const absl::Time judged_at = options_.clock->Now();
  std::vector<CellFolder::Changes> parts;
  {
    absl::MutexLock lock(&parts_mu_);
    for (auto& folder : folders_) parts.push_back(folder->TakeChanges());
  }
  std::vector<std::pair<CellId, RollupCell>> cells;
  std::vector<std::pair<std::string, RollupCell>> partials;
  // Routed, each changed part goes to stage C, which merges and publishes.
  std::vector<eventlog::AppendRecord> parts_out;
  if (routed()) {
    // Before the batch is durable: the others then reach a frontier no
    // later than C sees the parts that moved it, and a restart that
    // folds the events again announces it again.
    RETURN_IF_ERROR(AnnounceFrontiers());
    ASSIGN_OR_RETURN(parts_out, PartRecords(parts, partials));
  } else if (folders_.size() == 1) {
    cells = parts[0].cells;
  } else {
    absl::flat_hash_set<CellId> merged;
    for (size_t p = 0; p < parts.size(); ++p) {
      for (const auto& [id, part] : parts[p].cells) {
        if (part.version > 0) {
          partials.emplace_back(
              PartialCellKey(static_cast<int32_t>(p), CellKeyFor(defs(), id)),
              part);
        }
        if (!merged.insert(id).second) continue;
        ASSIGN_OR_RETURN(std::optional<RollupCell> cell, MergedCell(defs(), id));
        cells.emplace_back(id, cell.value_or(RollupCell{}));
      }
    }
  }
  ASSIGN_OR_RETURN(auto derived, DerivedRecords(cells, judged_at));
  EventAcceptor::Accepted accepted;
  for (Acceptance& acceptance : acceptance_) {
    EventAcceptor::Accepted part = acceptance.acceptor->TakeAccepted();
    accepted.events.merge(part.events);
    accepted.new_events += part.new_events;
  }
  std::vector<std::pair<CellId, OwnState>> own;
  std::map<std::string, std::optional<int64_t>> own_events;
  std::map<std::string, int64_t> frontiers;  // The same in every partition.
  for (CellFolder::Changes& part : parts) {
    own.insert(own.end(), part.own.begin(), part.own.end());
    own_events.merge(part.own_events);
    frontiers.insert(part.frontiers.begin(), part.frontiers.end());
  }
  std::vector<eventlog::Position> positions;
  for (const auto& [partition, position] : next_) {
    positions.push_back(position);
  }
  FlushBatch batch = PrepareFlushBatch(
      defs(), cells, derived, own, std::move(partials),
      std::move(accepted.events), accepted.new_events, std::move(own_events),
      std::move(positions), judged_at);
  batch.changelog.insert(batch.changelog.end(),
                         std::make_move_iterator(parts_out.begin()),
                         std::make_move_iterator(parts_out.end()));
  for (Acceptance& acceptance : acceptance_) {
    acceptance.closings->TakeChanges(batch.changes);
  }
  batch.changes.frontiers.assign(frontiers.begin(), frontiers.end());
  flusher_->Submit(std::move(batch));
  ReportProgress();
  // Every batch before this one is durable now, so only this batch's
  // entries must stay: the store holds the rest exactly.
  absl::MutexLock lock(&parts_mu_);
  for (size_t p = 0; p < folders_.size(); ++p) {
    folders_[p]->Bound(options_.max_cached_cells / folders_.size(), parts[p]);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<eventlog::AppendRecord>> RollupEngine::PartRecords(
    const std::vector<CellFolder::Changes>& parts,
    std::vector<std::pair<std::string, RollupCell>>& partials) {
  const Definitions& defs = this->defs();
  std::vector<eventlog::AppendRecord> records;
  for (size_t p = 0; p < parts.size(); ++p) {
    PeriodClosings& closings = *acceptance_[p].closings;
    for (const auto& [id, part] : parts[p].cells) {
      if (part.version == 0) continue;  // Marked, never changed.
      const std::string cell_key = CellKeyFor(defs, id);
      const std::string key =
          PartialCellKey(static_cast<int32_t>(p), cell_key);
      partials.emplace_back(key, part);
      v1::PartialCell record;
      record.set_fold_partition(static_cast<int32_t>(p));
      record.set_cell_key(cell_key);
      record.set_version_epoch(epoch_);
      record.set_cell(EncodeCell(part));
      if (closings.Keeps(defs.calendar(), id.period)) {
        ASSIGN_OR_RETURN(std::optional<RollupCell> reported,
                         closings.Reported(cell_key));
        if (reported) record.set_reported(EncodeCell(*reported));
      }
      records.push_back({key, record.SerializeAsString(),
                         PartialsPartitionOf(defs.unit(id.unit).definition.unit_id(),
                                             id.period, partials_partitions_)});
    }
  }
  return records;
}

void RollupEngine::ReportProgress() {
  reporter_.Report(flusher_->TakeDurablePositions());
}


absl::Status RollupEngine::ApplyRecords(
    const std::vector<eventlog::LogRecord>& records) {
  absl::flat_hash_map<int32_t, const eventlog::LogRecord*> last_of_partition;
  for (const eventlog::LogRecord& record : records) {
    last_of_partition[record.topic_partition.partition] = &record;
  }
  for (const auto& [partition, record] : last_of_partition) {
    next_[partition] = {record->topic_partition, record->offset + 1,
                        StableHash(record->value)};
  }
  RETURN_IF_ERROR(routed() ? ApplyRouted(records)
                           : acceptance_[0].acceptor->Apply(records));
  // Only now, with every record folded: queries may trust the engine once
  // it has caught up, so progress must not run ahead of the folding.
  for (const auto& [partition, record] : last_of_partition) {
    progress_->Advance(record->topic_partition, record->offset + 1);
  }
  return absl::OkStatus();
}

absl::Status RollupEngine::ApplyRouted(
    const std::vector<eventlog::LogRecord>& records) {
  // Per fold partition, the records A read, as it read them.
  std::vector<std::vector<eventlog::LogRecord>> read(acceptance_.size());
  for (const eventlog::LogRecord& record : records) {
    v1::RoutedRecord routed;
    const int32_t part = record.topic_partition.partition;
    if (!routed.ParseFromString(record.value) || part < 0 ||
        part >= static_cast<int32_t>(read.size())) {
      return absl::DataLossError(absl::StrCat(
          "rollup: malformed routed record at ", record.topic_partition.topic,
          "/", part, "@", record.offset));
    }
    if (routed.has_frontier()) {
      // In order with the part's events around it.
      RETURN_IF_ERROR(acceptance_[part].acceptor->Apply(read[part]));
      read[part].clear();
      RETURN_IF_ERROR(ReachAnnounced(part, routed.frontier()));
      continue;
    }
    if (!routed.has_envelope()) continue;
    read[part].push_back({{kKpiEventsTopic, routed.source_partition()},
                          routed.source_offset(),
                          routed.source_append_time_ms(),
                          record.key,
                          routed.envelope().SerializeAsString()});
  }
  for (size_t part = 0; part < read.size(); ++part) {
    RETURN_IF_ERROR(acceptance_[part].acceptor->Apply(read[part]));
  }
  // One that caught up with newer definitions: the hand-off resolves
  // every part's cells in definitions at least as new.
  RefreshDefinitions();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<RollupCell>> RollupEngine::Read(
    const Definitions& defs, KpiIndex kpi, UnitIndex unit,
    const Period& period) const {
  // Every part as of one moment: between two changes.
  absl::ReaderMutexLock lock(&parts_mu_);
  return MergedCell(defs, {kpi, unit, period});
}

CellFolder& RollupEngine::FolderOf(const Definitions& defs, UnitIndex unit) {
  return *folders_[FoldScope::PartOf(defs, unit,
                                     static_cast<int32_t>(folders_.size()))];
}

absl::StatusOr<std::optional<RollupCell>> RollupEngine::MergedCell(
    const Definitions& defs, const CellId& id, const CellFolder* replaced,
    const RollupCell* replacement) const {
  if (folders_.size() == 1 && replaced == nullptr) {
    return folders_[0]->Read(defs, id);
  }
  std::vector<RollupCell> parts;
  parts.reserve(folders_.size());
  for (const auto& folder : folders_) {
    if (folder.get() == replaced) {
      parts.push_back(*replacement);
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<RollupCell> part, folder->Read(defs, id));
    if (part) parts.push_back(*part);
  }
  std::vector<const RollupCell*> pointers;
  for (const RollupCell& part : parts) pointers.push_back(&part);
  ASSIGN_OR_RETURN(RollupCell merged,
                   MergePartialCells(defs.kpi(id.kpi).hierarchy_aggregation,
                                     pointers));
  if (merged.version == 0) return std::nullopt;
  // A part's versions count its changes in this shape; versions of each
  // shape lie above those of the shapes before it.
  if (folders_.size() > 1) merged.version += epoch_ << kReorgVersionShift;
  return merged;
}

absl::StatusOr<std::optional<v1::RollupRecord>> RollupEngine::ReadRecord(
    const Definitions& defs, const CellId& id, absl::Time judged_at) const {
  return ReadPublicRecord(
      defs, id, judged_at,
      [&](const CellId& cell) { return Read(defs, cell.kpi, cell.unit, cell.period); },
      [&](const CellId& cell) { return ReportedCell(defs, cell); });
}

absl::StatusOr<std::optional<RollupCell>> RollupEngine::ReportedCell(
    const Definitions& defs, const CellId& id) const {
  const std::string key = CellKeyFor(defs, id);
  if (!routed()) return acceptance_[0].closings->Reported(key);
  // Each part as reported where one was kept, else as it is.
  absl::ReaderMutexLock lock(&parts_mu_);
  bool kept = false;
  std::vector<RollupCell> parts;
  for (size_t p = 0; p < folders_.size(); ++p) {
    ASSIGN_OR_RETURN(std::optional<RollupCell> part,
                     acceptance_[p].closings->Reported(key));
    kept = kept || part.has_value();
    if (!part) {
      ASSIGN_OR_RETURN(part, folders_[p]->Read(defs, id));
    }
    if (part) parts.push_back(*part);
  }
  if (!kept) return std::nullopt;
  std::vector<const RollupCell*> pointers;
  for (const RollupCell& part : parts) pointers.push_back(&part);
  return MergePartialCells(defs.kpi(id.kpi).hierarchy_aggregation, pointers);
}

std::vector<int32_t> RollupEngine::ReadParts() const {
  std::vector<int32_t> parts;
  absl::MutexLock lock(&read_parts_mu_);
  for (size_t part = 0; part < acceptance_.size(); ++part) {
    if (!routed() || read_parts_.count(part) > 0) parts.push_back(part);
  }
  return parts;
}

absl::StatusOr<std::vector<v1::PartClosings>> RollupEngine::ClosingsOfParts(
    const std::string& event_id) const {
  const std::vector<int32_t> read = ReadParts();
  std::vector<v1::PartClosings> parts;
  for (int32_t part : read) {
    PeriodClosings& closings = *acceptance_[part].closings;
    v1::PartClosings& of_part = parts.emplace_back();
    of_part.set_fold_part(part);
    for (v1::ClosedPeriod& closed : closings.Closed()) {
      *of_part.add_closed() = std::move(closed);
    }
    if (event_id.empty()) {
      ASSIGN_OR_RETURN(std::vector<v1::PendingEvent> pending,
                       closings.AllPending());
      for (v1::PendingEvent& event : pending) {
        *of_part.add_pending() = std::move(event);
      }
    } else {
      ASSIGN_OR_RETURN(std::optional<v1::PendingEvent> pending,
                       closings.Pending(event_id));
      if (pending) *of_part.add_pending() = *std::move(pending);
    }
  }
  // A part handed over meanwhile may have been read as it changed hands.
  if (ReadParts() != read) {
    return absl::UnavailableError(
        "rollup: the fold parts read here changed while listing their "
        "closes; retry");
  }
  return parts;
}

CellFolder::CellObserver RollupEngine::KeepReportedIn(
    size_t part, const Definitions& defs) {
  // Routed, each part keeps its own part (ReportedCell merges them).
  PeriodClosings& closings = *acceptance_[part].closings;
  return [&defs, &closings](const CellId& id,
                            const RollupCell& before) -> absl::Status {
    if (!closings.Keeps(defs.calendar(), id.period)) return absl::OkStatus();
    return closings.KeepReported(CellKeyFor(defs, id), before);
  };
}

absl::Status RollupEngine::FoldAccepted(size_t stage, const Definitions& defs,
                                        const EventChange& change,
                                        bool approved_late) {
  absl::MutexLock lock(&parts_mu_);
  const size_t part = FoldScope::PartOf(defs, change.unit,
                                        static_cast<int32_t>(folders_.size()));
  CellFolder& folder = *folders_[part];
  if (routed()) {
    // An approved late event: each closed period's cell keeps its figure
    // as reported before the event changed it, carried stocks included.
    const CellFolder::CellObserver observer = KeepReportedIn(part, defs);
    const CellFolder::CellObserver* late = approved_late ? &observer : nullptr;
    // The other parts hear of the frontiers it moves (AnnounceFrontiers).
    RETURN_IF_ERROR(folder.ReachFrontiers(defs, change, late));
    NoteFrontiers(static_cast<int32_t>(part), defs, change);
    return folder.Fold(defs, change, late);
  }
  // As above, but the figure kept is the merge of every part's.
  PeriodClosings& closings = *acceptance_[stage].closings;
  auto keep_reported = [&](size_t p) -> CellFolder::CellObserver {
    return [&, p](const CellId& id, const RollupCell& before) -> absl::Status {
      if (!closings.Keeps(defs.calendar(), id.period)) return absl::OkStatus();
      ASSIGN_OR_RETURN(std::optional<RollupCell> merged,
                       MergedCell(defs, id, folders_[p].get(), &before));
      return closings.KeepReported(CellKeyFor(defs, id),
                                   merged.value_or(RollupCell{}));
    };
  };
  if (folders_.size() > 1) {
    // Every part carries its stocks as far as the event takes them.
    for (size_t p = 0; p < folders_.size(); ++p) {
      const CellFolder::CellObserver observer = keep_reported(p);
      RETURN_IF_ERROR(folders_[p]->ReachFrontiers(
          defs, change, approved_late ? &observer : nullptr));
    }
  }
  if (!approved_late) return folder.Fold(defs, change);
  const CellFolder::CellObserver observer = keep_reported(part);
  return folder.Fold(defs, change, &observer);
}

void RollupEngine::NoteFrontiers(int32_t part, const Definitions& defs,
                                 const EventChange& change) {
  const KpiInfo& info = defs.kpi(change.kpi);
  if (!info.carry_forward) return;
  std::vector<Period> periods;
  defs.calendar().PeriodsContaining(
      absl::FromUnixSeconds(change.time.seconds) +
          absl::Nanoseconds(change.time.nanos),
      info.periods, periods);
  for (const Period& period : periods) {
    int32_t& index = to_announce_[{part, change.kpi, period.kind}];
    index = std::max(index, period.index);
  }
}

absl::Status RollupEngine::AnnounceFrontiers() {
  const Definitions& defs = this->defs();
  std::vector<eventlog::AppendRecord> records;
  for (const auto& [where, index] : to_announce_) {
    const auto& [part, kpi, kind] = where;
    auto [announced, first] = announced_.try_emplace(where, index);
    if (!first && announced->second >= index) continue;
    announced->second = index;
    v1::RoutedRecord routed;
    v1::StockFrontier& frontier = *routed.mutable_frontier();
    frontier.set_kpi_id(defs.kpi(kpi).definition.kpi_id());
    frontier.mutable_period()->set_kind(static_cast<v1::PeriodKind>(kind));
    frontier.mutable_period()->set_label(PeriodLabel({kind, index}));
    frontier.set_from_partition(part);
    const std::string value = routed.SerializeAsString();
    for (int32_t p = 0; p < static_cast<int32_t>(folders_.size()); ++p) {
      if (p != part) records.push_back({PartialCellKey(part, "frontier"), value, p});
    }
  }
  to_announce_.clear();
  if (records.empty()) return absl::OkStatus();
  return log_.Append(kRollupChangesTopic, records);
}

absl::Status RollupEngine::ReachAnnounced(int32_t part,
                                          const v1::StockFrontier& frontier) {
  // At least as new as any part's acceptor: the part may hold units an
  // older snapshot lacks, whose stocks must be carried too.
  RefreshDefinitions();
  std::optional<KpiIndex> kpi = defs().FindKpi(frontier.kpi_id());
  if (!kpi && definitions_.CatchUp(absl::Seconds(10)).ok()) {
    // The announcing part read the KPI's definition before this one did.
    RefreshDefinitions();
    kpi = defs().FindKpi(frontier.kpi_id());
  }
  if (!kpi) {
    // Read again (UNAVAILABLE meanwhile), never skipped.
    return absl::UnavailableError(absl::StrCat(
        "rollup: a frontier of '", frontier.kpi_id(),
        "', a KPI not defined yet"));
  }
  const Definitions& defs = this->defs();
  absl::StatusOr<Period> period =
      IsPeriodKind(frontier.period().kind())
          ? ParsePeriod(static_cast<PeriodKind>(frontier.period().kind()),
                        frontier.period().label())
          : absl::InvalidArgumentError("no period kind");
  if (!period.ok() || !defs.kpi(*kpi).carry_forward) {
    // Announced for a KPI that carried stocks in a shape this one is not.
    STRATA_LOG(WARNING) << "rollup: skipping a frontier of '"
                        << frontier.kpi_id() << "' announced by part "
                        << frontier.from_partition();
    return absl::OkStatus();
  }
  absl::MutexLock lock(&parts_mu_);
  // Whether the event that moved it was late or not, cells of a complete
  // close keep their figure as reported before the stocks arrive.
  const CellFolder::CellObserver observer = KeepReportedIn(part, defs);
  return folders_[part]->ReachFrontier(defs, *kpi, *period, &observer);
}

}  // namespace strata::rollup
