#include "services/rollup/cell_combiner.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/aggregation/cell_merge.h"
#include "libs/eventlog/replay_progress.h"
#include "libs/hash/stable_hash.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/cell_key.h"
#include "services/rollup/cell_codec.h"
#include "services/rollup/rollup_record.h"
#include "strata/v1/rollup_internal.pb.h"

namespace strata::rollup {
namespace {

using Parts = CellParts;

// The cell's parts of `epoch` merged (`reported`: each as reported at its
// close where it kept one); nullopt when none holds a change. Parts of an
// earlier epoch are stale: the fold partitions fold everything again in a
// new one, as a whole engine does after a reorg.
absl::StatusOr<std::optional<RollupCell>> Merge(
    HierarchyAggregation aggregation, const Parts& parts, int64_t epoch,
    bool reported) {
  std::vector<const RollupCell*> latest;
  for (const auto& [partition, part] : parts) {
    if (part.version_epoch != epoch) continue;
    latest.push_back(reported && part.reported ? &*part.reported : &part.cell);
  }
  ASSIGN_OR_RETURN(RollupCell merged, MergePartialCells(aggregation, latest));
  if (merged.version == 0) return std::nullopt;
  merged.version += epoch << kReorgVersionShift;
  return merged;
}

absl::Status RolledUpAgain(absl::string_view what, int32_t partition,
                           int64_t epoch) {
  return absl::UnavailableError(absl::StrCat(
      what, ": ", kRollupPartialsTopic, "/", partition,
      " is being rolled up again after a reorg (epoch ", epoch,
      " not complete in every fold part yet); retry"));
}

}  // namespace

int32_t PartialsPartitionOf(absl::string_view unit_id, const Period& period,
                            int32_t partitions) {
  return eventlog::PartitionForKey(
      absl::StrCat(unit_id, "/", PeriodLabel(period)), partitions);
}

CellCombiner::CellCombiner(const CellCombinerOptions& options,
                           eventlog::EventLog& log,
                           DefinitionsFollower& definitions,
                           CombinerStore& store)
    : options_(options),
      log_(log),
      definitions_(definitions),
      store_(store),
      loop_("rollup combine", health_, consumer_, options_.poll_batch,
            options_.poll_timeout,
            {.publish_outbox = [this] { return PublishOutbox(); },
             .process = [this](const auto& records) {
               stats_.records_behind = consumer_->RecordsBehind();
               absl::Status combined = CombineAndPublish(records);
               restore_clock_.Check(combined.ok() && !AnyRestoring());
               return combined;
             },
             .rewind = [this] { return Rewind(); }}) {
  retargets_ = definitions_.AddListener(
      [this](const Definitions& defs, const v1::DefinitionBatch& batch) {
        std::vector<CellId> cells = RetargetedCells(defs, batch);
        std::lock_guard<std::mutex> lock(retargeted_mu_);
        retargeted_.insert(retargeted_.end(), cells.begin(), cells.end());
      });
}

CellCombiner::~CellCombiner() {
  retargets_ = {};  // No definitions callback from here on.
  Stop();
  Leave(consumer_);  // Hands the partitions over.
}

absl::Status CellCombiner::Start() {
  ASSIGN_OR_RETURN(partitions_, log_.PartitionCount(kRollupPartialsTopic));
  const int32_t partitions = partitions_;
  RETURN_IF_ERROR(log_.PartitionCount(kRollupsTopic).status());
  // What a crash left unpublished waits for each partition's next reader:
  // by the time this start could publish it (a broker down can hold an
  // append for long), another instance may have taken the partition over
  // and published newer merges, which this would follow with older ones.
  std::vector<eventlog::TopicPartition> all;
  for (int32_t p = 0; p < partitions; ++p) {
    all.push_back({kRollupPartialsTopic, p});
  }
  RETURN_IF_ERROR(DeferOutboxOf(all));
  ASSIGN_OR_RETURN(const int64_t latest_epoch, store_.LatestEpoch());
  latest_epoch_ = latest_epoch;
  std::vector<eventlog::Position> positions;
  for (int32_t p = 0; p < partitions; ++p) {
    ASSIGN_OR_RETURN(eventlog::Position position,
                     store_.Position({kRollupPartialsTopic, p}));
    positions.push_back(position);
  }
  // A log that lost parts the store reflects would have their successors
  // skipped: DATA_LOSS, never a silent skip.
  if (absl::Status within =
          eventlog::ReplayProgress::Begin(log_, positions, "rollup combine")
              .status();
      !within.ok()) {
    health_.Set(within);
    return within;
  }
  // Cells are published, and a sweep a crash cut short is done, in
  // definitions that name them.
  if (absl::Status caught_up = definitions_.CatchUp(absl::Seconds(10));
      !caught_up.ok()) {
    STRATA_LOG(WARNING) << "rollup combine: starting before the definitions "
                           "caught up: " << caught_up;
  }
  ASSIGN_OR_RETURN(consumer_, log_.NewConsumer(options_.consumer_group));
  RETURN_IF_ERROR(consumer_->Subscribe({kRollupPartialsTopic}, *this));
  loop_.Start("rollup-combine");
  return absl::OkStatus();
}

bool CellCombiner::AnyRestoring() const {
  absl::MutexLock lock(&owned_mu_);
  return absl::c_any_of(
      owned_, [](const auto& entry) { return entry.second.restoring(); });
}

absl::Status CellCombiner::Health() const {
  RETURN_IF_ERROR(health_.Get());
  absl::MutexLock lock(&owned_mu_);
  for (const auto& [partition, owned] : owned_) {
    RETURN_IF_ERROR(Serves(partition, owned, latest_epoch_, "rollup combine"));
  }
  return absl::OkStatus();
}

absl::Status CellCombiner::Serves(int32_t partition,
                                  const OwnedPartition& owned,
                                  int64_t latest_epoch,
                                  absl::string_view what) const {
  if (owned.restoring()) {
    return absl::UnavailableError(absl::StrCat(
        what, ": restoring ", kRollupPartialsTopic, "/", partition,
        ", at offset ", owned.next, " of ", owned.restore_until));
  }
  if (owned.swept_epoch < latest_epoch) {
    return RolledUpAgain(what, partition, latest_epoch);
  }
  return absl::OkStatus();
}

absl::StatusOr<CellParts> CellCombiner::PartsOfEpoch(const std::string& key,
                                                     int64_t epoch) const {
  ASSIGN_OR_RETURN(Parts parts, store_.Parts(key));
  // Parts of a newer epoch are stored only once it is the latest: none
  // of them is among these if it still is not.
  if (const int64_t latest = latest_epoch_; latest != epoch) {
    return RolledUpAgain(absl::StrCat("rollup combine: '", key, "'"),
                         PartitionOfKey(key), latest);
  }
  return parts;
}

absl::StatusOr<std::vector<eventlog::Position>> CellCombiner::TakeOver(
    const std::vector<eventlog::TopicPartition>& partitions) {
  ASSIGN_OR_RETURN(std::vector<eventlog::Position> positions,
                   StoredPositionsWithinLog(store_, log_, partitions,
                                            "rollup combine"));
  std::map<int32_t, OwnedPartition> taken;
  std::string reading;
  for (const eventlog::Position& stored : positions) {
    const eventlog::TopicPartition& tp = stored.topic_partition;
    ASSIGN_OR_RETURN(const int64_t group, consumer_->Committed(tp));
    ASSIGN_OR_RETURN(const int64_t end, log_.EndOffset(tp));
    OwnedPartition& owned = taken[tp.partition];
    ASSIGN_OR_RETURN(owned.swept_epoch, store_.SweptEpoch(tp.partition));
    owned.next = stored.offset;
    owned.publish_from = std::max<int64_t>(group, 0);
    owned.restore_until = std::max(end, owned.publish_from);
    absl::StrAppend(&reading, reading.empty() ? "" : ", ", tp.partition,
                    " from ", owned.next, " (restoring to ",
                    owned.restore_until, ", publishing what changed from ",
                    owned.publish_from, ")");
  }
  STRATA_LOG(INFO) << "rollup combine: reading " << kRollupPartialsTopic << " "
                   << reading;
  std::vector<int32_t> partitions_taken;
  int64_t to_restore = 0;
  absl::MutexLock lock(&owned_mu_);
  for (const auto& [partition, owned] : taken) {
    owned_[partition] = owned;
    partitions_taken.push_back(partition);
    to_restore += owned.restore_until - owned.next;
  }
  restore_clock_.TookOver(partitions_taken, to_restore);
  return positions;
}

void CellCombiner::Revoked(
    const std::vector<eventlog::TopicPartition>& partitions) {
  if (absl::Status published = PublishOutbox(); !published.ok()) {
    STRATA_LOG(WARNING) << "rollup combine: handing partitions over "
                           "unpublished: " << published;
    if (absl::Status deferred = DeferOutboxOf(partitions); !deferred.ok()) {
      STRATA_LOG(ERROR) << "rollup combine: " << deferred;
    }
  } else {
    std::vector<eventlog::Position> handed;
    for (const eventlog::TopicPartition& tp : partitions) {
      if (!Publishing(tp.partition)) continue;
      absl::MutexLock lock(&owned_mu_);
      handed.push_back({tp, owned_[tp.partition].next});
    }
    reporter_.Report(handed);
  }
  reporter_.Forget(partitions);
  absl::MutexLock lock(&owned_mu_);
  for (const eventlog::TopicPartition& tp : partitions) {
    owned_.erase(tp.partition);
  }
}

void CellCombiner::Lost(const std::vector<eventlog::TopicPartition>& partitions) {
  // Another instance may have published newer merges already.
  if (absl::Status deferred = DeferOutboxOf(partitions); !deferred.ok()) {
    STRATA_LOG(ERROR) << "rollup combine: " << deferred;
  }
  reporter_.Forget(partitions);
  absl::MutexLock lock(&owned_mu_);
  for (const eventlog::TopicPartition& tp : partitions) {
    owned_.erase(tp.partition);
  }
}

absl::Status CellCombiner::DeferOutboxOf(
    const std::vector<eventlog::TopicPartition>& given_up) {
  ASSIGN_OR_RETURN(std::vector<eventlog::AppendRecord> records,
                   store_.Outbox());
  std::vector<eventlog::AppendRecord> kept;
  CombineChanges changes;
  for (eventlog::AppendRecord& record : records) {
    const int32_t partition = PartitionOfKey(record.key);
    if (absl::c_any_of(given_up, [&](const eventlog::TopicPartition& tp) {
          return tp.partition == partition;
        })) {
      changes.deferred.push_back(record.key);
    } else {
      kept.push_back(std::move(record));
    }
  }
  if (changes.deferred.empty()) return absl::OkStatus();
  return store_.CommitReplacingOutbox(changes, kept);
}

int32_t CellCombiner::PartitionOfKey(absl::string_view cell_key) const {
  absl::StatusOr<CellKeyParts> parsed = ParseCellKey(cell_key);
  if (!parsed.ok()) return -1;
  return PartialsPartitionOf(parsed->unit_id, parsed->period, partitions_);
}

std::vector<int32_t> CellCombiner::OwnedPartitions() const {
  absl::MutexLock lock(&owned_mu_);
  std::vector<int32_t> partitions;
  for (const auto& [partition, owned] : owned_) partitions.push_back(partition);
  return partitions;
}

bool CellCombiner::Publishing(int32_t partition) const {
  absl::MutexLock lock(&owned_mu_);
  auto it = owned_.find(partition);
  return it != owned_.end() && !it->second.restoring() &&
         !it->second.flush_pending;
}

void CellCombiner::Stop() { loop_.Stop(); }

absl::Status CellCombiner::Rewind() {
  // Refused, an assignment left the group: joined again.
  ASSIGN_OR_RETURN(const bool rejoined, Rejoin(*consumer_, kRollupPartialsTopic));
  if (rejoined) return absl::OkStatus();
  std::vector<int32_t> owned;
  {
    absl::MutexLock lock(&owned_mu_);
    for (const auto& [partition, state] : owned_) owned.push_back(partition);
  }
  // A sweep that failed after its poll was committed is not read again.
  for (int32_t p : owned) {
    RETURN_IF_ERROR(SweepIfDue(*definitions_.Current(), p));
  }
  std::vector<eventlog::Position> positions;
  for (int32_t p : owned) {
    ASSIGN_OR_RETURN(eventlog::Position position,
                     store_.Position({kRollupPartialsTopic, p}));
    positions.push_back(position);
  }
  return consumer_->Seek(positions);
}

absl::Status CellCombiner::PublishOutbox() {
  ASSIGN_OR_RETURN(std::vector<eventlog::AppendRecord> records,
                   store_.Outbox());
  if (records.empty()) return absl::OkStatus();
  // A member its group may have dropped publishes nothing: told what it
  // lost, it leaves those cells to their next reader.
  if (consumer_ != nullptr) {
    if (absl::Status member = consumer_->CheckMembership(); !member.ok()) {
      return absl::Status(member.code(),
                          absl::StrCat("rollup combine: not publishing: ",
                                       member.message()));
    }
  }
  RETURN_IF_ERROR(log_.Append(kRollupsTopic, records));
  stats_.records_published += static_cast<int64_t>(records.size());
  return store_.ClearOutbox();
}


absl::Status CellCombiner::CombineAndPublish(
    const std::vector<eventlog::LogRecord>& records) {
  reporter_.RetryUnreported();
  std::vector<CellId> retargeted;
  {
    std::lock_guard<std::mutex> lock(retargeted_mu_);
    retargeted.swap(retargeted_);
  }
  // Read and changed on this thread only; others read it under the lock.
  std::map<int32_t, OwnedPartition> owned;
  {
    absl::MutexLock lock(&owned_mu_);
    owned = owned_;
  }
  const bool flush_due = absl::c_any_of(owned, [](const auto& entry) {
    return !entry.second.restoring() && entry.second.flush_pending;
  });
  if (records.empty() && retargeted.empty() && !flush_due) {
    return absl::OkStatus();
  }
  absl::Status combined = [&]() -> absl::Status {
    std::shared_ptr<const Definitions> defs = definitions_.Current();
    // The parts of each cell this poll reads: as stored, then as changed.
    std::map<std::string, Parts> cells;
    auto parts_of = [&](const std::string& key) -> absl::StatusOr<Parts*> {
      auto it = cells.find(key);
      if (it == cells.end()) {
        ASSIGN_OR_RETURN(Parts parts, store_.Parts(key));
        it = cells.emplace(key, std::move(parts)).first;
      }
      return &it->second;
    };
    CombineChanges changes;
    std::set<std::string> touched;
    std::set<std::string> deferred;  // Changed while restoring.
    std::map<int32_t, eventlog::Position> positions;
    // Per partials partition, the fold partitions' epochs completed.
    std::map<int32_t, std::map<int32_t, int64_t>> completed;
    for (const eventlog::LogRecord& record : records) {
      const int32_t partition = record.topic_partition.partition;
      auto state = owned.find(partition);
      if (state == owned.end()) continue;  // Revoked meanwhile.
      const bool restoring = state->second.restoring();
      const bool publish_later =
          restoring && record.offset >= state->second.publish_from;
      state->second.next = record.offset + 1;
      positions[partition] = {record.topic_partition, record.offset + 1,
                              StableHash(record.value)};
      v1::PartialCell partial;
      std::optional<RollupCell> cell;
      std::optional<RollupCell> reported;
      if (partial.ParseFromString(record.value) && partial.epoch_complete()) {
        auto [it, first] = completed.try_emplace(partition);
        std::map<int32_t, int64_t>& epochs = it->second;
        if (first) {
          ASSIGN_OR_RETURN(epochs, store_.CompletedEpochs(partition));
        }
        changes.fold_partitions = partial.fold_partitions();
        NoteEpoch(partial.version_epoch(), changes);
        int64_t& epoch = epochs[partial.fold_partition()];
        if (partial.version_epoch() > epoch) {
          epoch = partial.version_epoch();
          changes.completed.push_back(
              {{partition, partial.fold_partition()}, epoch});
        }
        continue;
      }
      if (!partial.cell_key().empty()) {
        cell = DecodeCell(partial.cell());
        if (!partial.reported().empty()) {
          reported = DecodeCell(partial.reported());
        }
      }
      if (!cell || (!partial.reported().empty() && !reported)) {
        return absl::DataLossError(absl::StrCat(
            "rollup combine: malformed part at ", record.topic_partition.topic,
            "/", record.topic_partition.partition, "@", record.offset));
      }
      ASSIGN_OR_RETURN(Parts * parts, parts_of(partial.cell_key()));
      auto kept = parts->find(partial.fold_partition());
      if (kept != parts->end() &&
          std::make_pair(kept->second.version_epoch,
                         kept->second.cell.version) >=
              std::make_pair(partial.version_epoch(), cell->version)) {
        ++stats_.parts_stale;  // Re-sent after a crash, or out of date.
        continue;
      }
      if (partial.version_epoch() < PollEpoch(changes)) {
        ++stats_.parts_stale;  // Of an epoch the fold has left behind.
        continue;
      }
      NoteEpoch(partial.version_epoch(), changes);
      const StoredPart part{partial.version_epoch(), *cell, reported};
      (*parts)[partial.fold_partition()] = part;
      changes.parts[partial.cell_key()][partial.fold_partition()] = part;
      if (!restoring) {
        touched.insert(partial.cell_key());
      } else if (publish_later) {
        deferred.insert(partial.cell_key());
      }
      ++stats_.parts_applied;
    }
    for (CellId id : retargeted) {
      // A derived KPI is published with its inputs: take the left one.
      if (const auto& formula = defs->kpi(id.kpi).formula) id.kpi = formula->left;
      std::string key = CellKeyFor(*defs, id);
      auto state = owned.find(PartitionOfKey(key));
      if (state == owned.end()) continue;  // Its reader publishes it.
      if (state->second.restoring()) {
        deferred.insert(std::move(key));
      } else {
        touched.insert(std::move(key));
      }
    }
    // Partitions restored: what changed since the group's position, merged
    // as of the end they were assigned with, or later.
    std::vector<int32_t> flushed;
    if (absl::c_any_of(owned, [](const auto& entry) {
          return !entry.second.restoring() && entry.second.flush_pending;
        })) {
      ASSIGN_OR_RETURN(std::vector<std::string> kept, store_.Deferred());
      kept.insert(kept.end(), deferred.begin(), deferred.end());
      for (auto& [partition, state] : owned) {
        if (state.restoring() || !state.flush_pending) continue;
        flushed.push_back(partition);
        for (const std::string& key : kept) {
          if (PartitionOfKey(key) != partition) continue;
          touched.insert(key);
          changes.undeferred.push_back(key);
          deferred.erase(key);
        }
      }
    }
    changes.deferred.assign(deferred.begin(), deferred.end());
    // The merged records of what changed, and of the derived KPIs they feed.
    const absl::Time judged_at = options_.clock->Now();
    std::vector<eventlog::AppendRecord> outbox;
    std::set<std::string> derived_done;
    auto merged = [&](const CellId& id) -> absl::StatusOr<std::optional<RollupCell>> {
      ASSIGN_OR_RETURN(Parts * parts, parts_of(CellKeyFor(*defs, id)));
      return Merge(defs->kpi(id.kpi).hierarchy_aggregation, *parts,
                   PollEpoch(changes), /*reported=*/false);
    };
    for (const std::string& key : touched) {
      absl::StatusOr<CellKeyParts> parsed = ParseCellKey(key);
      std::optional<KpiIndex> kpi;
      std::optional<UnitIndex> unit;
      if (parsed.ok()) {
        kpi = defs->FindKpi(parsed->kpi_id);
        unit = defs->FindUnit(parsed->unit_id);
        if ((!kpi || !unit) && definitions_.CatchUp(absl::Seconds(10)).ok()) {
          // A fold partition read the definitions before this stage did.
          defs = definitions_.Current();
          kpi = defs->FindKpi(parsed->kpi_id);
          unit = defs->FindUnit(parsed->unit_id);
        }
      }
      if (!kpi || !unit) {
        // Read again (and NOT_SERVING meanwhile), never dropped.
        return absl::UnavailableError(absl::StrCat(
            "a part of '", key, "' names a KPI or unit not defined yet"));
      }
      const CellId id{*kpi, *unit, parsed->period};
      ASSIGN_OR_RETURN(std::optional<RollupCell> cell, merged(id));
      if (cell) {
        outbox.push_back(
            {key, MakeRollupRecord(*defs, id, *cell, judged_at).SerializeAsString()});
      }
      for (KpiIndex derived : defs->kpi(id.kpi).derived) {
        const KpiInfo& info = defs->kpi(derived);
        const CellId derived_id{derived, id.unit, id.period};
        const std::string derived_key = CellKeyFor(*defs, derived_id);
        if (!info.periods.Contains(id.period.kind) ||
            !derived_done.insert(derived_key).second) {
          continue;
        }
        ASSIGN_OR_RETURN(std::optional<RollupCell> left,
                         merged({info.formula->left, id.unit, id.period}));
        ASSIGN_OR_RETURN(std::optional<RollupCell> right,
                         merged({info.formula->right, id.unit, id.period}));
        if (!left && !right) continue;
        outbox.push_back(
            {derived_key,
             MakeDerivedRecord(*defs, derived_id, left.value_or(RollupCell{}),
                               right.value_or(RollupCell{}), judged_at)
                 .SerializeAsString()});
      }
    }
    for (const auto& [partition, position] : positions) {
      changes.positions.push_back(position);
    }
    // Queries refuse a new epoch's cells before any of its parts is
    // stored: a cell merged from the parts of one epoch while another
    // fold partition's part was already of the next would be partial.
    const int64_t epoch_before = latest_epoch_;
    if (changes.latest_epoch) latest_epoch_ = *changes.latest_epoch;
    if (absl::Status committed = store_.Commit(changes, outbox);
        !committed.ok()) {
      latest_epoch_ = epoch_before;
      return committed;
    }
    if (options_.on_committed) options_.on_committed();
    for (int32_t partition : flushed) owned[partition].flush_pending = false;
    {
      absl::MutexLock lock(&owned_mu_);
      for (auto& [partition, state] : owned_) {
        auto it = owned.find(partition);
        if (it != owned.end()) state = it->second;
      }
    }
    RETURN_IF_ERROR(PublishOutbox());
    // The group's position moves only past what is published: a partition
    // still restoring keeps it where its next reader publishes from.
    std::vector<eventlog::Position> reported;
    for (const eventlog::Position& position : changes.positions) {
      if (Publishing(position.topic_partition.partition)) {
        reported.push_back(position);
      }
    }
    for (int32_t partition : flushed) {
      if (positions.count(partition) == 0) {
        reported.push_back(
            {{kRollupPartialsTopic, partition}, owned[partition].next});
      }
    }
    reporter_.Report(reported);
    for (const auto& [partition, epochs] : completed) {
      RETURN_IF_ERROR(SweepIfDue(*defs, partition));
    }
    for (int32_t partition : flushed) {
      RETURN_IF_ERROR(SweepIfDue(*defs, partition));
    }
    return absl::OkStatus();
  }();
  if (!combined.ok()) {
    // Republished once the poll is read again.
    std::lock_guard<std::mutex> lock(retargeted_mu_);
    retargeted_.insert(retargeted_.end(), retargeted.begin(), retargeted.end());
  }
  return combined;
}

absl::Status CellCombiner::SweepIfDue(const Definitions& defs,
                                      int32_t partition) {
  // Restoring, a retraction could follow a newer merge its previous reader
  // published: swept once restored.
  if (!Publishing(partition)) return absl::OkStatus();
  ASSIGN_OR_RETURN(const int64_t fold_partitions, store_.FoldPartitions());
  ASSIGN_OR_RETURN(const auto epochs,
                   store_.CompletedEpochs(partition));
  int64_t complete = std::numeric_limits<int64_t>::max();
  for (int32_t p = 0; p < fold_partitions; ++p) {
    auto it = epochs.find(p);
    complete = std::min(complete, it == epochs.end() ? 0 : it->second);
  }
  ASSIGN_OR_RETURN(const int64_t swept, store_.SweptEpoch(partition));
  if (fold_partitions == 0 || complete <= swept) return absl::OkStatus();
  return Sweep(defs, partition, complete);
}

absl::Status CellCombiner::Sweep(const Definitions& defs, int32_t partition,
                                 int64_t epoch) {
  ASSIGN_OR_RETURN(const int32_t partitions,
                   log_.PartitionCount(kRollupPartialsTopic));
  ASSIGN_OR_RETURN(auto cells, store_.AllParts());
  CombineChanges changes;
  std::vector<CellId> removed;
  // Whether a cell keeps a part of `epoch` or later.
  auto current = [&](const std::string& key) {
    auto it = cells.find(key);
    if (it == cells.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(), [&](const auto& p) {
      return p.second.version_epoch >= epoch;
    });
  };
  for (const auto& [key, parts] : cells) {
    absl::StatusOr<CellKeyParts> parsed = ParseCellKey(key);
    if (!parsed.ok() ||
        PartialsPartitionOf(parsed->unit_id, parsed->period, partitions) !=
            partition) {
      continue;
    }
    if (!current(key)) {
      std::optional<KpiIndex> kpi = defs.FindKpi(parsed->kpi_id);
      std::optional<UnitIndex> unit = defs.FindUnit(parsed->unit_id);
      if (!kpi || !unit) {
        // Its parts go only with its retraction: read again.
        return absl::UnavailableError(absl::StrCat(
            "sweeping '", key, "', which names a KPI or unit not defined yet"));
      }
      removed.push_back({*kpi, *unit, parsed->period});
    }
    for (const auto& [fold_partition, part] : parts) {
      if (part.version_epoch < epoch) changes.dropped.emplace_back(key, fold_partition);
    }
  }
  // A record without a value for each, and for the derived KPIs left with
  // neither input, above every version of the epochs before; a derived KPI
  // left with one input is published again from it alone.
  const absl::Time judged_at = options_.clock->Now();
  std::vector<eventlog::AppendRecord> outbox;
  std::set<std::string> retracted;
  auto retract = [&](const CellId& id) {
    const std::string key = CellKeyFor(defs, id);
    if (!retracted.insert(key).second) return;
    v1::RollupRecord record = MakeEmptyRecord(defs, id, judged_at);
    record.set_no_value_reason("no events since the organisation was reshaped");
    record.set_version(epoch << kReorgVersionShift);
    outbox.push_back({key, record.SerializeAsString()});
  };
  auto input = [&](const CellId& id) -> absl::StatusOr<RollupCell> {
    auto it = cells.find(CellKeyFor(defs, id));
    if (it == cells.end()) return RollupCell{};
    ASSIGN_OR_RETURN(std::optional<RollupCell> merged,
                     Merge(defs.kpi(id.kpi).hierarchy_aggregation, it->second,
                           latest_epoch_, /*reported=*/false));
    return merged.value_or(RollupCell{});
  };
  for (const CellId& id : removed) {
    retract(id);
    for (KpiIndex derived : defs.kpi(id.kpi).derived) {
      const KpiInfo& info = defs.kpi(derived);
      if (!info.periods.Contains(id.period.kind)) continue;
      const CellId derived_id{derived, id.unit, id.period};
      const CellId left_id{info.formula->left, id.unit, id.period};
      const CellId right_id{info.formula->right, id.unit, id.period};
      if (!current(CellKeyFor(defs, left_id)) &&
          !current(CellKeyFor(defs, right_id))) {
        retract(derived_id);
        continue;
      }
      const std::string key = CellKeyFor(defs, derived_id);
      if (!retracted.insert(key).second) continue;
      ASSIGN_OR_RETURN(const RollupCell left, input(left_id));
      ASSIGN_OR_RETURN(const RollupCell right, input(right_id));
      outbox.push_back(
          {key, MakeDerivedRecord(defs, derived_id, left, right, judged_at)
                    .SerializeAsString()});
    }
  }
  changes.swept.emplace_back(partition, epoch);
  RETURN_IF_ERROR(store_.Commit(changes, outbox));
  {
    absl::MutexLock lock(&owned_mu_);
    if (auto it = owned_.find(partition); it != owned_.end()) {
      it->second.swept_epoch = epoch;
    }
  }
  return PublishOutbox();
}

void CellCombiner::NoteEpoch(int64_t epoch, CombineChanges& changes) {
  // From here on older parts are stale; the cells of this epoch come.
  // Queries see it once committed (CombineAndPublish).
  if (epoch > PollEpoch(changes)) changes.latest_epoch = epoch;
}

int64_t CellCombiner::PollEpoch(const CombineChanges& changes) const {
  return changes.latest_epoch.value_or(latest_epoch_);
}

absl::StatusOr<std::optional<RollupCell>> CellCombiner::Read(
    const Definitions& defs, const CellId& id) const {
  const std::string key = CellKeyFor(defs, id);
  const int64_t epoch = latest_epoch_;
  {
    const int32_t partition = PartitionOfKey(key);
    absl::MutexLock lock(&owned_mu_);
    auto it = owned_.find(partition);
    if (it == owned_.end()) {
      return absl::UnavailableError(absl::StrCat(
          "rollup combine: '", key, "' is in ", kRollupPartialsTopic, "/",
          partition, ", which another instance reads"));
    }
    RETURN_IF_ERROR(Serves(partition, it->second, epoch,
                           absl::StrCat("rollup combine: '", key, "'")));
  }
  ASSIGN_OR_RETURN(Parts parts, PartsOfEpoch(key, epoch));
  return Merge(defs.kpi(id.kpi).hierarchy_aggregation, parts, epoch,
               /*reported=*/false);
}

absl::StatusOr<std::optional<v1::RollupRecord>> CellCombiner::ReadRecord(
    const Definitions& defs, const CellId& id, absl::Time judged_at) const {
  auto reported = [&](const CellId& cell)
      -> absl::StatusOr<std::optional<RollupCell>> {
    const int64_t epoch = latest_epoch_;
    ASSIGN_OR_RETURN(Parts parts, PartsOfEpoch(CellKeyFor(defs, cell), epoch));
    const bool kept = std::any_of(parts.begin(), parts.end(), [](const auto& p) {
      return p.second.reported.has_value();
    });
    if (!kept) return std::nullopt;
    return Merge(defs.kpi(cell.kpi).hierarchy_aggregation, parts, epoch,
                 /*reported=*/true);
  };
  return ReadPublicRecord(
      defs, id, judged_at, [&](const CellId& cell) { return Read(defs, cell); },
      reported);
}

}  // namespace strata::rollup
