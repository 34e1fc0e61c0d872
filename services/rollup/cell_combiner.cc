#include "services/rollup/cell_combiner.h"

#include <pthread.h>

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
    : options_(options), log_(log), definitions_(definitions), store_(store) {
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
}

absl::Status CellCombiner::Start() {
  ASSIGN_OR_RETURN(const int32_t partitions,
                   log_.PartitionCount(kRollupPartialsTopic));
  RETURN_IF_ERROR(log_.PartitionCount(kRollupsTopic).status());
  RETURN_IF_ERROR(PublishOutbox());
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
  // A sweep a crash cut short, after the completed epochs it follows, in
  // definitions that name its cells.
  if (absl::Status caught_up = definitions_.CatchUp(absl::Seconds(10));
      !caught_up.ok()) {
    STRATA_LOG(WARNING) << "rollup combine: starting before the definitions "
                           "caught up: " << caught_up;
  }
  for (int32_t p = 0; p < partitions; ++p) {
    RETURN_IF_ERROR(SweepIfDue(*definitions_.Current(), p));
  }
  ASSIGN_OR_RETURN(consumer_, log_.NewConsumer(options_.consumer_group));
  RETURN_IF_ERROR(consumer_->Assign(positions));
  ReportPositions(positions);
  health_.Set(absl::OkStatus());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rollup-combine");
    Run();
  });
  return absl::OkStatus();
}

void CellCombiner::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
}

void CellCombiner::Run() {
  absl::Duration backoff = absl::Milliseconds(10);
  // After a failure the consumer reads again from the stored positions;
  // until it does, nothing is polled (it would skip what failed).
  bool rewind = false;
  while (!stop_) {
    absl::Status combined = rewind ? Rewind() : absl::OkStatus();
    if (combined.ok()) {
      rewind = false;
      combined = PublishOutbox();
    }
    if (combined.ok()) {
      absl::StatusOr<std::vector<eventlog::LogRecord>> records =
          consumer_->Poll(options_.poll_batch, options_.poll_timeout);
      combined = records.ok() ? CombineAndPublish(*records) : records.status();
    }
    if (combined.ok()) {
      health_.SetUnlessDamaged(absl::OkStatus());
      backoff = absl::Milliseconds(10);
      continue;
    }
    if (absl::IsDataLoss(combined) || absl::IsOutOfRange(combined)) {
      // Damage that reading again would only meet again.
      STRATA_LOG(ERROR) << "rollup combine: stopped, not serving: " << combined;
      health_.Set(combined);
      return;
    }
    STRATA_LOG(WARNING) << "rollup combine: " << combined << "; retrying";
    health_.SetUnlessDamaged(absl::UnavailableError(
        absl::StrCat("rollup combine: ", combined.message())));
    rewind = true;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

absl::Status CellCombiner::Rewind() {
  ASSIGN_OR_RETURN(const int32_t partitions,
                   log_.PartitionCount(kRollupPartialsTopic));
  // A sweep that failed after its poll was committed is not read again.
  for (int32_t p = 0; p < partitions; ++p) {
    RETURN_IF_ERROR(SweepIfDue(*definitions_.Current(), p));
  }
  std::vector<eventlog::Position> positions;
  for (int32_t p = 0; p < partitions; ++p) {
    ASSIGN_OR_RETURN(eventlog::Position position,
                     store_.Position({kRollupPartialsTopic, p}));
    positions.push_back(position);
  }
  return consumer_->Assign(positions);
}

absl::Status CellCombiner::PublishOutbox() {
  ASSIGN_OR_RETURN(std::vector<eventlog::AppendRecord> records,
                   store_.Outbox());
  if (records.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(log_.Append(kRollupsTopic, records));
  stats_.records_published += static_cast<int64_t>(records.size());
  return store_.ClearOutbox();
}

void CellCombiner::ReportPositions(
    const std::vector<eventlog::Position>& positions) {
  if (positions.empty()) return;
  if (absl::Status reported = consumer_->Commit(positions); !reported.ok()) {
    STRATA_LOG(WARNING) << "rollup combine: reporting positions: " << reported;
  }
}

absl::Status CellCombiner::CombineAndPublish(
    const std::vector<eventlog::LogRecord>& records) {
  std::vector<CellId> retargeted;
  {
    std::lock_guard<std::mutex> lock(retargeted_mu_);
    retargeted.swap(retargeted_);
  }
  if (records.empty() && retargeted.empty()) return absl::OkStatus();
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
    std::map<int32_t, eventlog::Position> positions;
    // Per partials partition, the fold partitions' epochs completed.
    std::map<int32_t, std::map<int32_t, int64_t>> completed;
    for (const eventlog::LogRecord& record : records) {
      const int32_t partition = record.topic_partition.partition;
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
      touched.insert(partial.cell_key());
      ++stats_.parts_applied;
    }
    for (CellId id : retargeted) {
      // A derived KPI is published with its inputs: take the left one.
      if (const auto& formula = defs->kpi(id.kpi).formula) id.kpi = formula->left;
      touched.insert(CellKeyFor(*defs, id));
    }
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
    RETURN_IF_ERROR(store_.Commit(changes, outbox));
    if (changes.latest_epoch) latest_epoch_ = *changes.latest_epoch;
    RETURN_IF_ERROR(PublishOutbox());
    ReportPositions(changes.positions);
    for (const auto& [partition, epochs] : completed) {
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
  ASSIGN_OR_RETURN(Parts parts, store_.Parts(CellKeyFor(defs, id)));
  return Merge(defs.kpi(id.kpi).hierarchy_aggregation, parts, latest_epoch_,
               /*reported=*/false);
}

absl::StatusOr<std::optional<v1::RollupRecord>> CellCombiner::ReadRecord(
    const Definitions& defs, const CellId& id, absl::Time judged_at) const {
  auto reported = [&](const CellId& cell)
      -> absl::StatusOr<std::optional<RollupCell>> {
    ASSIGN_OR_RETURN(Parts parts, store_.Parts(CellKeyFor(defs, cell)));
    const bool kept = std::any_of(parts.begin(), parts.end(), [](const auto& p) {
      return p.second.reported.has_value();
    });
    if (!kept) return std::nullopt;
    return Merge(defs.kpi(cell.kpi).hierarchy_aggregation, parts,
                 latest_epoch_, /*reported=*/true);
  };
  return ReadPublicRecord(
      defs, id, judged_at, [&](const CellId& cell) { return Read(defs, cell); },
      reported);
}

}  // namespace strata::rollup
