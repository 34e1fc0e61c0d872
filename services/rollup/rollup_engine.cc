#include "services/rollup/rollup_engine.h"

#include <algorithm>
#include <cstdlib>

#include <pthread.h>

#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "libs/aggregation/fixed_point.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"
#include "libs/streams/cell_key.h"
#include "services/rollup/rollup_record.h"
#include "strata/v1/rollup.pb.h"

namespace strata::rollup {
namespace {

// Stable across processes, so `last` ties resolve the same on replay.
uint64_t Fnv1a(absl::string_view s) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : s) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

int64_t ToMicros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000 + t.nanos() / 1000;
}

}  // namespace

RollupEngine::RollupEngine(const RollupEngineOptions& options,
                           eventlog::EventLog& log,
                           DefinitionsFollower& definitions, RollupStore& store)
    : options_(options), log_(log), definitions_(definitions), store_(store) {}

RollupEngine::~RollupEngine() { Stop(); }

absl::Status RollupEngine::Start() {
  ASSIGN_OR_RETURN(int32_t partitions, log_.PartitionCount(kKpiEventsTopic));
  ASSIGN_OR_RETURN(changelog_partitions_, log_.PartitionCount(kRollupsTopic));
  std::vector<eventlog::Position> positions;
  for (int32_t p = 0; p < partitions; ++p) {
    eventlog::TopicPartition tp{kKpiEventsTopic, p};
    ASSIGN_OR_RETURN(int64_t offset, store_.Position(tp));
    next_offset_[p] = offset;
    positions.push_back({tp, offset});
  }
  ASSIGN_OR_RETURN(consumer_, log_.NewConsumer(options_.consumer_group));
  RETURN_IF_ERROR(consumer_->Assign(positions));
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

void RollupEngine::Run() {
  absl::Time last_flush = absl::Now();
  size_t pending = 0;  // Records applied since the last flush.
  while (!stop_) {
    const absl::Duration wait =
        pending == 0 ? options_.flush_interval
                     : std::max(absl::ZeroDuration(),
                                options_.flush_interval -
                                    (absl::Now() - last_flush));
    auto records = consumer_->Poll(options_.poll_batch, wait);
    if (!records.ok()) {
      STRATA_LOG(WARNING) << "rollup: poll: " << records.status();
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    if (pending == 0) last_flush = absl::Now();
    defs_ = definitions_.Current();
    if (absl::Status status = ApplyRecords(*records); !status.ok()) {
      // Only a store read fails here, with the cache half updated: the one
      // safe way on is a restart, which replays from the committed state.
      STRATA_LOG(ERROR) << "rollup: state store read failed: " << status;
      std::abort();
    }
    pending += records->size();
    if (pending > 0 &&
        (absl::Now() - last_flush >= options_.flush_interval ||
         pending_event_ids_.size() >= options_.max_pending_events)) {
      // Read nothing more until this is durable: a log or disk that is down
      // holds the engine back instead of growing its memory.
      absl::Duration backoff = absl::Milliseconds(100);
      absl::Status status;
      while (!(status = Flush()).ok() && !stop_) {
        STRATA_LOG(WARNING) << "rollup: flush failed, retrying: " << status;
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(5));
      }
      if (status.ok()) pending = 0;
    }
  }
  if (pending > 0) {
    absl::Status status = Flush();
    if (!status.ok()) {
      STRATA_LOG(WARNING) << "rollup: final flush failed; the log replays it: "
                          << status;
    }
  }
}

absl::Status RollupEngine::ApplyRecords(
    const std::vector<eventlog::LogRecord>& records) {
  google::protobuf::Arena arena;
  std::vector<const v1::KpiEvent*> events;
  for (const eventlog::LogRecord& record : records) {
    next_offset_[record.topic_partition.partition] = record.offset + 1;
    auto* envelope =
        google::protobuf::Arena::CreateMessage<v1::EventEnvelope>(&arena);
    if (!envelope->ParseFromString(record.value) ||
        !envelope->has_kpi_events()) {
      STRATA_LOG(ERROR) << "rollup: skipping malformed record "
                        << record.topic_partition.partition << "@"
                        << record.offset;
      ++stats_.events_rejected;
      continue;
    }
    for (const v1::KpiEvent& event : envelope->kpi_events().events()) {
      events.push_back(&event);
    }
  }
  // Which events were committed before: one batched look-up per poll.
  std::vector<absl::string_view> ids;
  ids.reserve(events.size());
  for (const v1::KpiEvent* event : events) ids.push_back(event->event_id());
  ASSIGN_OR_RETURN(std::vector<bool> committed, store_.AreSeen(ids));
  for (size_t i = 0; i < events.size(); ++i) {
    // Pending ids also catch repeats within this poll.
    if (committed[i] || pending_event_ids_.contains(ids[i])) {
      ++stats_.events_duplicate;
      continue;
    }
    RETURN_IF_ERROR(ApplyEvent(*events[i], *defs_));
  }
  return absl::OkStatus();
}

absl::Status RollupEngine::ApplyEvent(const v1::KpiEvent& event,
                                      const Definitions& defs) {
  std::optional<KpiIndex> kpi = defs.FindKpi(event.kpi_id());
  std::optional<UnitIndex> unit = defs.FindUnit(event.unit_id());
  if (!kpi || !unit) {
    // Ingest validated the event, so its definitions are on the log, just
    // not read yet: catch up once before giving up on it.
    if (definitions_.CatchUp(absl::Seconds(10)).ok()) {
      defs_ = definitions_.Current();
      kpi = defs_->FindKpi(event.kpi_id());
      unit = defs_->FindUnit(event.unit_id());
    }
    if (!kpi || !unit) {
      STRATA_LOG(ERROR) << "rollup: event " << event.event_id()
                        << " names an undefined KPI or unit; skipped";
      ++stats_.events_rejected;
      return absl::OkStatus();
    }
    return ApplyEvent(event, *defs_);
  }
  pending_event_ids_.insert(event.event_id());
  const KpiInfo& info = defs.kpi(*kpi);
  const int64_t time_us = ToMicros(event.event_time());
  const EventSample sample{time_us, Fnv1a(event.event_id()),
                           ToFixedPoint(event.value())};
  const absl::Time time = absl::FromUnixMicros(time_us);
  for (PeriodKind kind : kRollupPeriodKinds) {
    const Period period = PeriodContaining(kind, time);
    int64_t delta = sample.value;
    if (info.time_aggregation != TimeAggregation::kSum) {
      const CellId id{*kpi, *unit, period};
      ASSIGN_OR_RETURN(OwnState * own, own_.Mutable(id, [&] {
        return store_.GetOwn(KeyOf(defs, id));
      }));
      delta = FoldIntoOwn(info.time_aggregation, sample, *own);
    }
    for (UnitIndex ancestor : defs.PathToRoot(*unit)) {
      const CellId id{*kpi, ancestor, period};
      ASSIGN_OR_RETURN(RollupCell * cell, cells_.Mutable(id, [&] {
        return store_.GetCell(KeyOf(defs, id));
      }));
      ApplyDelta(delta, time_us, *cell);
    }
  }
  ++stats_.events_applied;
  return absl::OkStatus();
}

std::string RollupEngine::KeyOf(const Definitions& defs,
                                const CellId& id) const {
  return CellKey(defs.kpi(id.kpi).definition.kpi_id(),
                 defs.unit(id.unit).definition.unit_id(), id.period);
}

absl::Status RollupEngine::Flush() {
  const Definitions& defs = *defs_;
  StateChanges changes;
  std::vector<eventlog::AppendRecord> changelog;
  changes.cells.reserve(cells_.dirty().size());
  changelog.reserve(cells_.dirty().size());
  for (const CellId& id : cells_.dirty()) {
    const RollupCell& cell = cells_.at(id);
    std::string key = KeyOf(defs, id);
    const v1::RollupRecord record =
        MakeRollupRecord(defs.kpi(id.kpi).definition.kpi_id(),
                         defs.unit(id.unit).definition.unit_id(), id.period,
                         cell);
    changelog.push_back({key, record.SerializeAsString()});
    changes.cells.emplace_back(std::move(key), cell);
  }
  for (const CellId& id : own_.dirty()) {
    changes.own.emplace_back(KeyOf(defs, id), own_.at(id));
  }
  changes.seen_event_ids.assign(pending_event_ids_.begin(),
                                pending_event_ids_.end());
  // Sorted keys insert into RocksDB's memtable skiplist far faster than
  // random ones: each insert starts from where the previous one ended.
  std::sort(changes.seen_event_ids.begin(), changes.seen_event_ids.end());
  std::sort(changes.cells.begin(), changes.cells.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::sort(changes.own.begin(), changes.own.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [partition, offset] : next_offset_) {
    changes.positions.push_back({{kKpiEventsTopic, partition}, offset});
  }

  RETURN_IF_ERROR(log_.Append(kRollupsTopic, changelog));
  RETURN_IF_ERROR(store_.Commit(changes));

  cells_.ClearDirty();
  own_.ClearDirty();
  stats_.events_committed += pending_event_ids_.size();
  pending_event_ids_.clear();
  ++stats_.flushes;
  // The group's position only reports lag; the store's is the one of record.
  absl::Status reported = consumer_->Commit(changes.positions);
  if (!reported.ok()) {
    STRATA_LOG(WARNING) << "rollup: reporting positions: " << reported;
  }
  return absl::OkStatus();
}

}  // namespace strata::rollup
