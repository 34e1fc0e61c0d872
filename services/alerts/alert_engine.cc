#include "services/alerts/alert_engine.h"

#include <pthread.h>

#include <algorithm>
#include <cmath>

#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "libs/hash/stable_hash.h"
#include "libs/logging/log.h"
#include "libs/period/period.h"
#include "libs/scorecard/judgement.h"
#include "libs/status/status_macros.h"
#include "libs/streams/cell_key.h"
#include "libs/streams/timestamps.h"
#include "libs/streams/topics.h"
#include "services/alerts/alert_ids.h"

namespace strata::alerts {
namespace {


// Clamped: a record's append time comes from its producer, and any Kafka
// client may set one.
google::protobuf::Timestamp ToProto(absl::Time t) { return ToTimestamp(t); }

bool IsWarning(KpiStatus s) {
  return s == KpiStatus::kAmber || s == KpiStatus::kRed;
}

// The time an action was taken (`envelope`: a serialized EventEnvelope
// whose acted_at ApplyAction has set).
absl::Time ActedAt(const std::string& envelope) {
  v1::EventEnvelope parsed;
  if (!parsed.ParseFromString(envelope)) return absl::InfinitePast();
  return FromTimestamp(parsed.alert_action().acted_at());
}

constexpr uint32_t Bit(v1::AlertRule rule) { return uint32_t{1} << rule; }

// Where a KPI's feed schedule is checked up to: by cadence too, as period
// indexes of one kind mean nothing in another.
std::string FeedScheduleKey(const KpiInfo& kpi) {
  return absl::StrCat(kpi.definition.kpi_id(), "/",
                      static_cast<int>(kpi.feed->cadence));
}

// Whether a feed schedule wants the cell's data.
// When the cell's data is due by its KPI's feed schedule, if it is.
std::optional<absl::Time> FeedDueOf(const Definitions& defs, KpiIndex kpi,
                                    const CellKeyParts& cell) {
  if (!defs.kpi(kpi).feed) return std::nullopt;
  const std::optional<UnitIndex> unit = defs.FindUnit(cell.unit_id);
  if (!unit) return std::nullopt;
  return defs.FeedDue(kpi, *unit, cell.period);
}

// Whether a feed schedule wants the cell's data. A KPI not read here yet
// may have one: Evaluate waits for it and decides.
bool FeedScheduled(const Definitions& defs, const v1::RollupKey& key,
                   const std::string& cell_key) {
  const std::optional<KpiIndex> kpi = defs.FindKpi(key.kpi_id());
  if (!kpi) return true;
  if (!defs.kpi(*kpi).feed) return false;  // Most KPIs: at once.
  absl::StatusOr<CellKeyParts> parts = ParseCellKey(cell_key);
  return parts.ok() && FeedDueOf(defs, *kpi, *parts).has_value();
}

// An alert (re)opened or escalated at `time` escalates next `after` later,
// unless silenced or acted on; its cell wakes for the earliest of its own.
void ScheduleEscalation(absl::Duration after, absl::Time time,
                        v1::Alert& alert, CellStatus& cell) {
  if (after <= absl::ZeroDuration() || !alert.silence_id().empty()) {
    alert.clear_next_escalation_time();
    return;
  }
  *alert.mutable_next_escalation_time() = ToTimestamp(time + after);
  cell.escalation_due = std::min(cell.escalation_due, time + after);
}

// Green, amber, red: 0, 1, 2; no data and unknown are not ranked.
std::optional<int> Severity(KpiStatus s) {
  switch (s) {
    case KpiStatus::kGreen:
      return 0;
    case KpiStatus::kAmber:
      return 1;
    case KpiStatus::kRed:
      return 2;
    default:
      return std::nullopt;
  }
}

// Whether `status` is worse than `than`; anything ranked is worse than
// kUnknown (no resolution yet).
bool Worse(KpiStatus status, KpiStatus than) {
  const std::optional<int> a = Severity(status);
  if (!a) return false;
  const std::optional<int> b = Severity(than);
  return !b || *a > *b;
}

}  // namespace

class AlertEngine::Pending {
 public:
  explicit Pending(AlertStore& store) : store_(store) {}

  absl::StatusOr<CellStatus*> Cell(const std::string& key) {
    auto it = cells_.find(key);
    if (it != cells_.end()) return &it->second;
    ASSIGN_OR_RETURN(std::optional<CellStatus> stored, store_.GetCell(key));
    return Loaded(key, stored.value_or(CellStatus{}));
  }

  // nullptr for a cell no record has reached: nothing is written for it.
  absl::StatusOr<CellStatus*> KnownCell(const std::string& key) {
    auto it = cells_.find(key);
    if (it != cells_.end()) return &it->second;
    ASSIGN_OR_RETURN(std::optional<CellStatus> stored, store_.GetCell(key));
    if (!stored) return nullptr;
    return Loaded(key, *stored);
  }

  // Loads the cells of `keys` not loaded yet, and their alert index
  // entries (every new figure may update an open alert), in two batched
  // look-ups.
  absl::Status Prefetch(const std::vector<std::string>& keys) {
    std::vector<absl::string_view> missing;
    for (const std::string& key : keys) {
      if (!key.empty() && !cells_.contains(key)) missing.push_back(key);
    }
    if (missing.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::vector<std::optional<CellStatus>> stored,
                     store_.GetCells(missing));
    for (size_t i = 0; i < missing.size(); ++i) {
      Loaded(std::string(missing[i]), stored[i].value_or(CellStatus{}));
    }
    ASSIGN_OR_RETURN(std::vector<std::optional<AlertIndex>> indexes,
                     store_.GetIndexes(missing));
    for (size_t i = 0; i < missing.size(); ++i) {
      LoadedIndex(std::string(missing[i]), indexes[i].value_or(AlertIndex{}));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<AlertIndex*> Index(const std::string& key) {
    auto it = index_.find(key);
    if (it != index_.end()) return &it->second;
    ASSIGN_OR_RETURN(std::optional<AlertIndex> stored, store_.GetIndex(key));
    return LoadedIndex(key, stored.value_or(AlertIndex{}));
  }

  // nullptr when there is no such alert.
  absl::StatusOr<v1::Alert*> Alert(const std::string& id) {
    auto it = alerts_.find(id);
    if (it != alerts_.end()) return &it->second;
    ASSIGN_OR_RETURN(std::optional<v1::Alert> stored, store_.GetAlert(id));
    if (!stored) return nullptr;
    loaded_versions_.emplace(id, stored->version());
    return &alerts_.emplace(id, *std::move(stored)).first->second;
  }

  v1::Alert* NewAlert(const std::string& id) { return &alerts_[id]; }

  // The actions on the cell's alerts waiting for their time (serialized
  // envelopes, in the order they apply).
  absl::StatusOr<std::vector<std::string>*> Deferred(
      const std::string& cell_key) {
    auto it = deferred_.find(cell_key);
    if (it != deferred_.end()) return &it->second;
    ASSIGN_OR_RETURN(std::vector<std::string> stored,
                     store_.DeferredActions(cell_key));
    return &deferred_.emplace(cell_key, std::move(stored)).first->second;
  }

  void SetNextFeedCheck(const std::string& schedule, int64_t next) {
    feed_checks_[schedule] = next;
  }

  void PutSilence(const v1::Silence& silence) {
    silences_[silence.silence_id()] = silence;
  }

  // Sorted by key: RocksDB's memtable takes sorted inserts far faster.
  AlertChanges TakeChanges() {
    AlertChanges changes;
    changes.feed_checks.assign(feed_checks_.begin(), feed_checks_.end());
    for (const auto& [id, silence] : silences_) {
      changes.silences.push_back(silence);
    }
    for (auto& [key, cell] : cells_) {
      changes.cells.emplace_back(key, cell);
      const absl::Time was_due = loaded_due_.at(key);
      if (NextWake(cell) != was_due && was_due != absl::InfiniteFuture()) {
        changes.unscheduled.emplace_back(was_due, key);
      }
    }
    // Only what changed: most entries are loaded for figures that open or
    // update nothing.
    for (auto& [key, index] : index_) {
      const AlertIndex& was = index_as_loaded_.at(key);
      if (index.generation != was.generation || index.open != was.open ||
          index.best_since_resolved != was.best_since_resolved) {
        changes.index.emplace_back(key, index);
      }
    }
    for (auto& [id, envelopes] : deferred_) {
      if (envelopes.empty()) {
        changes.undeferred.push_back(id);
      } else {
        changes.deferred.emplace_back(id, envelopes);
      }
    }
    for (auto& [id, alert] : alerts_) {
      if (alert.version() > loaded_version(id)) changes.alerts.push_back(alert);
    }
    auto by_key = [](const auto& a, const auto& b) {
      return a.first < b.first;
    };
    std::sort(changes.cells.begin(), changes.cells.end(), by_key);
    std::sort(changes.index.begin(), changes.index.end(), by_key);
    std::sort(changes.alerts.begin(), changes.alerts.end(),
              [](const v1::Alert& a, const v1::Alert& b) {
                return a.alert_id() < b.alert_id();
              });
    return changes;
  }

 private:
  AlertIndex* LoadedIndex(const std::string& key, const AlertIndex& index) {
    auto [it, added] = index_.emplace(key, index);
    if (added) index_as_loaded_.emplace(key, index);
    return &it->second;
  }

  CellStatus* Loaded(const std::string& key, const CellStatus& cell) {
    loaded_due_[key] = NextWake(cell);
    return &cells_.emplace(key, cell).first->second;
  }

  int64_t loaded_version(const std::string& id) const {
    auto it = loaded_versions_.find(id);
    return it == loaded_versions_.end() ? 0 : it->second;
  }

  AlertStore& store_;
  // Node maps: the pointers handed out stay valid as others are loaded.
  absl::node_hash_map<std::string, CellStatus> cells_;
  // NextWake as stored: its due entry.
  absl::flat_hash_map<std::string, absl::Time> loaded_due_;
  absl::node_hash_map<std::string, AlertIndex> index_;
  absl::flat_hash_map<std::string, AlertIndex> index_as_loaded_;
  absl::node_hash_map<std::string, v1::Alert> alerts_;
  absl::node_hash_map<std::string, std::vector<std::string>> deferred_;
  absl::flat_hash_map<std::string, int64_t> loaded_versions_;  // To tell
                                                               // changes.
  absl::flat_hash_map<std::string, int64_t> feed_checks_;
  absl::flat_hash_map<std::string, v1::Silence> silences_;
};

AlertEngine::AlertEngine(const AlertEngineOptions& options,
                         eventlog::EventLog& log,
                         DefinitionsFollower& definitions, AlertStore& store,
                         AlertHub& hub)
    : options_(options),
      log_(log),
      definitions_(definitions),
      store_(store),
      hub_(hub) {}

AlertEngine::~AlertEngine() { Stop(); }

absl::Status AlertEngine::Start() {
  absl::Status started = StartConsuming();
  if (!started.ok()) health_.Set(started);
  return started;
}

absl::Status AlertEngine::Health() const {
  RETURN_IF_ERROR(health_.Get());
  std::shared_ptr<eventlog::ReplayProgress> progress = Progress();
  if (progress == nullptr) return absl::UnavailableError("alerts: starting");
  return progress->Status();
}

absl::Status AlertEngine::StartConsuming() {
  std::vector<eventlog::Position> positions;
  for (const char* topic : {kRollupsTopic, kAlertActionsTopic}) {
    ASSIGN_OR_RETURN(int32_t partitions, log_.PartitionCount(topic));
    for (int32_t p = 0; p < partitions; ++p) {
      eventlog::TopicPartition tp{topic, p};
      ASSIGN_OR_RETURN(eventlog::Position position, store_.Position(tp));
      next_[tp] = position;
      positions.push_back(position);
    }
  }
  ASSIGN_OR_RETURN(
      std::unique_ptr<eventlog::ReplayProgress> progress,
      eventlog::ReplayProgress::Begin(log_, positions, "alerts state"));
  std::atomic_store(&progress_, std::shared_ptr<eventlog::ReplayProgress>(
                                    std::move(progress)));
  ASSIGN_OR_RETURN(earliest_due_, store_.EarliestDue());
  ASSIGN_OR_RETURN(std::vector<v1::Silence> silences, store_.ListSilences());
  for (v1::Silence& silence : silences) {
    silences_[silence.silence_id()] = std::move(silence);
  }
  ASSIGN_OR_RETURN(consumer_, log_.NewConsumer(options_.consumer_group));
  ASSIGN_OR_RETURN(actions_consumer_,
                   log_.NewConsumer(options_.consumer_group));
  RETURN_IF_ERROR(Rewind());
  health_.Set(absl::OkStatus());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "alert-engine");
    Run();
  });
  return absl::OkStatus();
}

void AlertEngine::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
}

void AlertEngine::Run() {
  while (!stop_) {
    // Actions first, to the end of their topic: a replay then knows every
    // action before the records judged after it (see Advance).
    absl::StatusOr<std::vector<eventlog::LogRecord>> records =
        actions_consumer_->Poll(options_.poll_batch, absl::ZeroDuration());
    if (records.ok() && records->empty()) {
      records = consumer_->Poll(options_.poll_batch, options_.poll_timeout);
    }
    records_behind_ =
        consumer_->RecordsBehind() + actions_consumer_->RecordsBehind();
    absl::Status status = records.status();
    if (records.ok() && !records->empty()) {
      status = Apply(*records);
      // A store that cannot be read back is rebuilt at the next start.
      if (absl::IsDataLoss(status)) {
        if (absl::Status marked = store_.MarkForRebuild(status.message());
            !marked.ok()) {
          STRATA_LOG(ERROR) << "alerts: " << marked;
        }
        status = absl::DataLossError(
            absl::StrCat(status.message(),
                         "; restart to rebuild the alerts state from "
                         "the log"));
      }
    }
    if (status.ok()) status = JudgeDueCells();
    if (status.ok()) {
      if (Recovered()) health_.SetUnlessDamaged(absl::OkStatus());
      ReportPositions();
      continue;
    }
    // Nothing of a failed poll was committed; read it again, or stop for
    // good on damage, which a retry would only meet again.
    if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status)) {
      STRATA_LOG(WARNING) << "alerts: " << status << "; retrying";
      health_.SetUnlessDamaged(absl::UnavailableError(
          absl::StrCat("alerts: retrying after: ", status.message())));
    } else {
      STRATA_LOG(ERROR) << "alerts: stopped, not serving: " << status;
      health_.Set(status);
      return;
    }
    absl::SleepFor(absl::Milliseconds(200));
    if (absl::Status rewound = Rewind(); !rewound.ok()) {
      STRATA_LOG(WARNING) << "alerts: " << rewound;
    }
  }
}

absl::Status AlertEngine::Rewind() {
  std::vector<eventlog::Position> rollups, actions;
  retrying_until_.clear();
  for (const auto& [tp, position] : next_) {
    (tp.topic == kRollupsTopic ? rollups : actions).push_back(position);
    // Unknown, the end is taken as reached: health then follows batches.
    absl::StatusOr<int64_t> end = log_.EndOffset(tp);
    if (end.ok()) retrying_until_[tp] = *end;
  }
  RETURN_IF_ERROR(consumer_->Assign(rollups));
  return actions_consumer_->Assign(actions);
}

bool AlertEngine::Recovered() {
  for (const auto& [tp, end] : retrying_until_) {
    if (next_[tp].offset < end) return false;
  }
  retrying_until_.clear();
  return true;
}

absl::Status AlertEngine::Apply(
    const std::vector<eventlog::LogRecord>& records) {
  Pending pending(store_);
  const std::shared_ptr<const Definitions> defs = definitions_.Current();
  // Rollup records are parsed first, and the cells of those with a target
  // or a feed schedule loaded in one look-up; other cells are none of ours.
  std::vector<std::optional<v1::RollupRecord>> rollups(records.size());
  std::vector<std::string> cell_keys(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].topic_partition.topic != kRollupsTopic) continue;
    v1::RollupRecord rollup;
    if (!rollup.ParseFromString(records[i].value)) {
      STRATA_LOG(ERROR) << "alerts: skipping malformed rollup at "
                        << records[i].topic_partition.partition << "@"
                        << records[i].offset;
      continue;
    }
    absl::StatusOr<std::string> key = CellKeyOf(rollup.key());
    if (!key.ok()) continue;  // Not a cell this version knows.
    // Without a target there is no status; only a feed may be due.
    if (!rollup.has_target() && !FeedScheduled(*defs, rollup.key(), *key)) {
      continue;
    }
    cell_keys[i] = *std::move(key);
    rollups[i] = std::move(rollup);
  }
  RETURN_IF_ERROR(pending.Prefetch(cell_keys));
  auto positions = next_;
  for (size_t i = 0; i < records.size(); ++i) {
    const eventlog::LogRecord& record = records[i];
    if (record.topic_partition.topic == kRollupsTopic) {
      if (rollups[i]) {
        RETURN_IF_ERROR(Evaluate(*rollups[i], cell_keys[i],
                                 absl::FromUnixMillis(record.timestamp_ms),
                                 pending));
      }
    } else {
      RETURN_IF_ERROR(ApplyAction(record, pending));
    }
    positions[record.topic_partition] = {
        record.topic_partition, record.offset + 1, StableHash(record.value)};
  }
  return Commit(pending, std::move(positions));
}

void AlertEngine::ReportPositions() {
  // The group's positions only report progress, for lag monitoring: the
  // store's are the ones of record. Once a second at most, on real time.
  const absl::Time now = absl::Now();
  if (now < next_report_) return;
  next_report_ = now + kReportInterval;
  std::vector<eventlog::Position> rollups, actions;
  for (const auto& [tp, position] : next_) {
    auto it = reported_.find(tp);
    if (it != reported_.end() && it->second == position.offset) continue;
    (tp.topic == kRollupsTopic ? rollups : actions).push_back(position);
  }
  for (auto [consumer, positions] :
       {std::make_pair(consumer_.get(), &rollups),
        std::make_pair(actions_consumer_.get(), &actions)}) {
    if (consumer == nullptr || positions->empty()) continue;
    if (absl::Status reported = consumer->Commit(*positions); !reported.ok()) {
      STRATA_LOG(WARNING) << "alerts: reporting positions: " << reported;
      continue;  // Tried again at the next report.
    }
    for (const eventlog::Position& p : *positions) {
      reported_[p.topic_partition] = p.offset;
    }
  }
}

absl::Status AlertEngine::Commit(
    Pending& pending,
    absl::flat_hash_map<eventlog::TopicPartition, eventlog::Position>
        positions) {
  AlertChanges changes = pending.TakeChanges();
  for (const auto& [tp, position] : positions) {
    changes.positions.push_back(position);
  }
  RETURN_IF_ERROR(store_.Commit(changes));
  // A lower bound, kept without reading the store: JudgeDueCells reads it
  // again once it has taken the earliest.
  for (const auto& [key, cell] : changes.cells) {
    earliest_due_ = std::min(earliest_due_, NextWake(cell));
  }
  // Only once committed, which queries read: caught up means answerable.
  for (const auto& [tp, position] : positions) {
    progress_->Advance(tp, position.offset);
  }
  next_ = std::move(positions);
  { std::lock_guard<std::mutex> lock(changed_mu_); }
  changed_cv_.notify_all();
  if (!changes.alerts.empty()) {
    hub_.Publish(changes.alerts, *definitions_.Current());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<absl::Time>> AlertEngine::ReadThrough() {
  if (!Progress()->Status().ok()) return std::nullopt;  // Still replaying.
  if (!barrier_) {
    // Every rollup record and action on the log now was judged or taken
    // before now, and one more than settle_time ago is on the log by now.
    Barrier barrier{options_.clock->Now() - options_.settle_time, {}};
    for (const auto& [tp, position] : next_) {
      ASSIGN_OR_RETURN(int64_t end, log_.EndOffset(tp));
      barrier.ends.emplace_back(tp, end);
    }
    barrier_ = std::move(barrier);
  }
  for (const auto& [tp, end] : barrier_->ends) {
    if (next_.at(tp).offset < end) return std::nullopt;
  }
  const absl::Time through = barrier_->judged_before;
  barrier_.reset();
  return through;
}

absl::Status AlertEngine::JudgeDueCells() {
  const std::shared_ptr<const Definitions> defs = definitions_.Current();
  ASSIGN_OR_RETURN(const absl::Time feed_check, EarliestFeedCheck(*defs));
  const absl::Time now = options_.clock->Now() - options_.settle_time;
  if (std::min(earliest_due_, feed_check) > now) {
    judged_through_nanos_ = absl::ToUnixNanos(now);
    return absl::OkStatus();
  }
  // Only once every record judged before the due times has been read, so
  // that a replay, which reads them first, judges alike. Under steady load
  // the log never ends: read up to where it ended when the wait began.
  ASSIGN_OR_RETURN(std::optional<absl::Time> through, ReadThrough());
  if (!through) return absl::OkStatus();
  const absl::Time by = *through;
  ASSIGN_OR_RETURN(std::vector<std::string> due,
                   store_.CellsDueBy(by, options_.due_batch));
  Pending pending(store_);
  std::vector<std::string> keys(due.begin(), due.end());
  RETURN_IF_ERROR(pending.Prefetch(keys));
  for (const std::string& key : due) {
    ASSIGN_OR_RETURN(CellStatus * cell, pending.Cell(key));
    std::optional<CellRule> rule = RuleFor(defs, key);
    // Its KPI gone, nothing is due on the cell again; actions still apply.
    if (!rule) {
      for (absl::Time* when :
           {&cell->due, &cell->escalation_due, &cell->no_action_due,
            &cell->stale_due, &cell->action_overdue_due}) {
        *when = absl::InfiniteFuture();
      }
    }
    RETURN_IF_ERROR(Advance(key, rule ? &*rule : nullptr, by, *cell, pending));
  }
  ASSIGN_OR_RETURN(auto feeds_checked, CheckFeeds(defs, by, pending));
  RETURN_IF_ERROR(Commit(pending, next_));
  for (auto& [schedule, next] : feeds_checked) {
    next_feed_checks_[schedule] = next;
  }
  ASSIGN_OR_RETURN(earliest_due_, store_.EarliestDue());
  return absl::OkStatus();
}

absl::Status AlertEngine::Evaluate(const v1::RollupRecord& rollup,
                                   const std::string& cell_key, absl::Time time,
                                   Pending& pending) {
  ASSIGN_OR_RETURN(CellStatus * cell, pending.Cell(cell_key));
  // Older versions are repeats; the same version again is one only if its
  // target did not change either.
  if (rollup.version() < cell->version ||
      (rollup.version() == cell->version && rollup.target() == cell->target)) {
    return absl::OkStatus();
  }
  std::shared_ptr<const Definitions> defs = definitions_.CurrentSatisfying(
      [&](const Definitions& d) {
        return d.FindKpi(rollup.key().kpi_id()).has_value();
      });
  std::optional<CellRule> rule = RuleFor(std::move(defs), cell_key);
  if (!rule || (!rollup.has_target() && !rule->feed_due)) {
    return absl::OkStatus();
  }
  // As of when rollup judged it (by the clock rollup runs on), else its
  // time on the log: a replay judges alike.
  const absl::Time judged_at = std::max(
      rollup.has_judged_at() ? FromTimestamp(rollup.judged_at()) : time,
      cell->judged_at);
  // What time alone changed since the record before, first.
  RETURN_IF_ERROR(Advance(cell_key, &*rule, judged_at, *cell, pending));
  cell->actual = rollup.value();
  cell->target = rollup.target();
  cell->version = rollup.version();
  if (rollup.has_value()) {
    // Data came: in time, or the stale alert raised shows it.
    cell->stale_due = absl::InfiniteFuture();
    cell->feed_checked = true;
  }
  if (!rollup.has_target() || !rollup.has_value()) {
    // Nothing to judge, now or as time passes: a cell followed for its feed
    // alone, or a value gone (a void, a reorg) or not a number (a ratio
    // over 0), which is no data.
    cell->judged_at = judged_at;
    cell->due = absl::InfiniteFuture();
    const KpiStatus status =
        rollup.has_target() ? KpiStatus::kNoData : KpiStatus::kUnknown;
    return SetStatus(cell_key, *rule, {status, rollup.target(), std::nullopt},
                     judged_at, *cell, pending, /*new_figure=*/true);
  }
  return JudgeAt(cell_key, *rule, judged_at, *cell, pending,
                 /*new_figure=*/true);
}

std::optional<AlertEngine::CellRule> AlertEngine::RuleFor(
    std::shared_ptr<const Definitions> defs, const std::string& cell_key) {
  absl::StatusOr<CellKeyParts> parts = ParseCellKey(cell_key);
  if (!parts.ok()) return std::nullopt;
  std::optional<KpiIndex> kpi = defs->FindKpi(parts->kpi_id);
  if (!kpi) return std::nullopt;
  const KpiInfo& info = defs->kpi(*kpi);
  JudgingRule judging{defs->calendar(), parts->period, info.target_profile,
                      info.polarity, info.bands};
  const std::optional<absl::Time> feed_due = FeedDueOf(*defs, *kpi, *parts);
  return CellRule{std::move(defs), judging, info.alerts, feed_due};
}

absl::Status AlertEngine::Advance(const std::string& cell_key,
                                  const CellRule* rule, absl::Time until,
                                  CellStatus& cell, Pending& pending) {
  // A cell its feed schedule wants data for is due then, until data came:
  // armed whenever the cell is looked at, so that an action a replay reads
  // first waits behind the alert it acts on.
  if (rule != nullptr && rule->feed_due && !cell.feed_checked &&
      cell.stale_due == absl::InfiniteFuture()) {
    cell.stale_due = *rule->feed_due;
  }
  // At one instant, in this order: actions (taken on the state before it),
  // the status, what escalates, what waited for a corrective action.
  enum Step {
    kActions,
    kStatus,
    kEscalation,
    kNoAction,
    kStale,
    kOverdue,
    kNone
  };
  while (true) {
    Step next = kNone;
    absl::Time at = until;
    auto consider = [&](Step step, absl::Time due) {
      if (due <= at && (next == kNone || due < at)) {
        next = step;
        at = due;
      }
    };
    consider(kActions, cell.action_due);
    if (rule != nullptr) {
      consider(kStatus, cell.due);
      consider(kEscalation, cell.escalation_due);
      consider(kNoAction, cell.no_action_due);
      consider(kStale, cell.stale_due);
      consider(kOverdue, cell.action_overdue_due);
    }
    switch (next) {
      case kActions:
        RETURN_IF_ERROR(ApplyActionsDue(cell_key, cell, pending));
        break;
      case kStatus:
        RETURN_IF_ERROR(JudgeAt(cell_key, *rule, cell.due, cell, pending,
                                /*new_figure=*/false));
        break;
      case kEscalation:
        RETURN_IF_ERROR(Escalate(cell_key, *rule, cell, pending));
        break;
      case kNoAction:
        RETURN_IF_ERROR(RaiseNoAction(cell_key, *rule, cell, pending));
        break;
      case kStale:
        RETURN_IF_ERROR(RaiseStale(cell_key, *rule, cell, pending));
        break;
      case kOverdue:
        RETURN_IF_ERROR(RaiseOverdue(cell_key, *rule, cell, pending));
        break;
      case kNone:
        return absl::OkStatus();
    }
  }
}

absl::Status AlertEngine::JudgeAt(const std::string& cell_key,
                                  const CellRule& rule, absl::Time time,
                                  CellStatus& cell, Pending& pending,
                                  bool new_figure) {
  cell.judged_at = time;
  cell.due = NextStatusChange(rule.judging, cell.actual, cell.target, time)
                 .value_or(absl::InfiniteFuture());
  const absl::Duration window = rule.policy.projection_window;
  if (new_figure && window > absl::ZeroDuration()) {
    cell.pace.Observe(rule.judging, window, {time, cell.actual});
  }
  return SetStatus(cell_key, rule, FigureAt(rule, cell, time), time, cell,
                   pending, new_figure);
}

AlertEngine::Figure AlertEngine::FigureAt(const CellRule& rule,
                                          const CellStatus& cell,
                                          absl::Time time) {
  const Judgement judgement = rule.judging.At(cell.actual, cell.target, time);
  Figure figure{judgement.status, judgement.expected, judgement.score};
  const absl::Duration window = rule.policy.projection_window;
  if (window <= absl::ZeroDuration()) return figure;
  figure.projected =
      cell.pace.ProjectedEnd(rule.judging, window, {time, cell.actual});
  if (figure.projected) {
    // Judged as the period's end would judge it: against the whole target.
    figure.projected_status =
        rule.judging
            .At(*figure.projected, cell.target,
                rule.judging.calendar.End(rule.judging.period))
            .status;
  }
  return figure;
}

absl::StatusOr<v1::Alert*> AlertEngine::OpenAlert(const std::string& cell_key,
                                                  const CellRule& cell_rule,
                                                  v1::AlertRule rule,
                                                  absl::Time time,
                                                  CellStatus& cell,
                                                  Pending& pending) {
  ASSIGN_OR_RETURN(AlertIndex * index,
                   pending.Index(AlertIndexKey(cell_key, rule)));
  ++index->generation;
  index->open = true;
  const std::string id = AlertIdOf(cell_key, rule, index->generation);
  v1::Alert* alert = pending.NewAlert(id);
  alert->set_alert_id(id);
  alert->set_rule(rule);
  ASSIGN_OR_RETURN(*alert->mutable_key(), RollupKeyOf(cell_key));
  alert->set_generation(index->generation);
  alert->set_state(v1::ALERT_STATE_OPEN);
  *alert->mutable_raised_time() = ToProto(time);
  alert->set_silence_id(SilenceFor(cell_key, rule, time));
  ScheduleEscalation(cell_rule.policy.escalate_after, time, *alert, cell);
  return alert;
}

absl::StatusOr<v1::Alert*> AlertEngine::OpenAlertOf(
    const std::string& cell_key, v1::AlertRule rule, Pending& pending) {
  ASSIGN_OR_RETURN(AlertIndex * index,
                   pending.Index(AlertIndexKey(cell_key, rule)));
  if (!index->open) return nullptr;
  return pending.Alert(AlertIdOf(cell_key, rule, index->generation));
}

void AlertEngine::ShowFigure(const CellStatus& cell, const Figure& figure,
                             absl::Time time, v1::Alert& alert) {
  if (alert.status() != static_cast<v1::KpiStatus>(figure.status)) {
    alert.set_previous_status(alert.status());
    alert.set_status(static_cast<v1::KpiStatus>(figure.status));
  }
  alert.set_actual(cell.actual);
  alert.set_target(cell.target);
  alert.set_expected(figure.expected);
  if (figure.score) {
    alert.set_score(*figure.score);
  } else {
    alert.clear_score();
  }
  if (figure.projected) {
    alert.set_projected(*figure.projected);
  } else {
    alert.clear_projected();
  }
  alert.set_projected_status(
      static_cast<v1::KpiStatus>(figure.projected_status));
  *alert.mutable_updated_time() = ToProto(time);
  alert.set_version(alert.version() + 1);
}

bool AlertEngine::ShowsFigure(const CellStatus& cell, const Figure& figure,
                              const v1::Alert& alert) {
  return alert.status() == static_cast<v1::KpiStatus>(figure.status) &&
         alert.actual() == cell.actual && alert.target() == cell.target &&
         alert.expected() == figure.expected &&
         alert.has_score() == figure.score.has_value() &&
         (!figure.score || alert.score() == *figure.score) &&
         alert.has_projected() == figure.projected.has_value() &&
         (!figure.projected || alert.projected() == *figure.projected) &&
         alert.projected_status() ==
             static_cast<v1::KpiStatus>(figure.projected_status);
}

absl::Status AlertEngine::SetStatus(const std::string& cell_key,
                                    const CellRule& rule, const Figure& figure,
                                    absl::Time time, CellStatus& cell,
                                    Pending& pending, bool new_figure) {
  const KpiStatus status = figure.status;
  const KpiStatus previous = cell.status;
  if (status == previous && !new_figure) return absl::OkStatus();
  cell.status = status;
  cell.last_score = figure.score.value_or(std::nan(""));
  if (status != previous) TrackRedSpell(rule, status, time, cell);
  // Alerts of the other rules open on the cell show the figure as it is.
  for (v1::AlertRule other :
       {v1::ALERT_RULE_WORSENING, v1::ALERT_RULE_NO_CORRECTIVE_ACTION,
        v1::ALERT_RULE_PROJECTED_MISS, v1::ALERT_RULE_STALE_FEED,
        v1::ALERT_RULE_ACTION_OVERDUE}) {
    if ((cell.open_rules & Bit(other)) == 0) continue;
    ASSIGN_OR_RETURN(v1::Alert * alert, OpenAlertOf(cell_key, other, pending));
    if (alert != nullptr && !ShowsFigure(cell, figure, *alert)) {
      ShowFigure(cell, figure, time, *alert);
    }
  }
  if (figure.score) {
    RETURN_IF_ERROR(
        JudgeWorsening(cell_key, rule, figure, *figure.score, time, cell,
                       pending));
  }
  RETURN_IF_ERROR(JudgeProjection(cell_key, rule, figure, time, cell, pending));

  ASSIGN_OR_RETURN(AlertIndex * index, pending.Index(cell_key));
  ASSIGN_OR_RETURN(v1::Alert * alert,
                   OpenAlertOf(cell_key, v1::ALERT_RULE_STATUS_CHANGE, pending));
  if (status == previous) {
    // The same status on a new figure: the open alert shows the figure as
    // it is now, never one behind the rollup.
    if (alert != nullptr && !ShowsFigure(cell, figure, *alert)) {
      ShowFigure(cell, figure, time, *alert);
    }
    return absl::OkStatus();
  }
  if (alert == nullptr) {
    // After a resolution, only a status worse than the best one since
    // reopens: improving from red to amber is not news.
    const KpiStatus best = index->best_since_resolved;
    if (!IsWarning(status) || !Worse(status, best)) {
      if (best != KpiStatus::kUnknown && Worse(best, status)) {
        index->best_since_resolved = status;
      }
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(alert, OpenAlert(cell_key, rule,
                                      v1::ALERT_RULE_STATUS_CHANGE, time, cell,
                                      pending));
    alert->set_status(static_cast<v1::KpiStatus>(previous));
  } else if (alert->state() == v1::ALERT_STATE_ACKNOWLEDGED &&
             IsWarning(status) &&
             !IsWarning(static_cast<KpiStatus>(alert->status()))) {
    // An acknowledgement holds until the condition clears: back again, the
    // alert wants attention again.
    alert->set_state(v1::ALERT_STATE_OPEN);
    ScheduleEscalation(rule.policy.escalate_after, time, *alert, cell);
  }
  ShowFigure(cell, figure, time, *alert);
  return absl::OkStatus();
}

void AlertEngine::TrackRedSpell(const CellRule& rule, KpiStatus status,
                                absl::Time time, CellStatus& cell) {
  if (status == KpiStatus::kRed) {
    cell.red_since = time;
    const absl::Duration within = rule.policy.corrective_action_within;
    cell.no_action_due = within > absl::ZeroDuration()
                             ? time + within
                             : absl::InfiniteFuture();
  } else {
    cell.red_since = absl::InfiniteFuture();
    cell.no_action_due = absl::InfiniteFuture();
  }
}

absl::Status AlertEngine::JudgeWorsening(const std::string& cell_key,
                                         const CellRule& rule,
                                         const Figure& figure, double score,
                                         absl::Time time, CellStatus& cell,
                                         Pending& pending) {
  const double drop = rule.policy.worsening_score_drop;
  if (drop <= 0) return absl::OkStatus();
  if (std::isnan(cell.best_score) || score > cell.best_score) {
    cell.best_score = score;
  }
  if (score > cell.best_score - drop ||
      (cell.open_rules & Bit(v1::ALERT_RULE_WORSENING)) != 0) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(v1::Alert * alert,
                   OpenAlert(cell_key, rule, v1::ALERT_RULE_WORSENING, time,
                             cell, pending));
  cell.open_rules |= Bit(v1::ALERT_RULE_WORSENING);
  alert->set_best_score(cell.best_score);
  ShowFigure(cell, figure, time, *alert);
  return absl::OkStatus();
}

absl::Status AlertEngine::JudgeProjection(const std::string& cell_key,
                                          const CellRule& rule,
                                          const Figure& figure,
                                          absl::Time time, CellStatus& cell,
                                          Pending& pending) {
  // Nothing to say (no window yet, or the period over): as it was.
  if (!figure.projected) return absl::OkStatus();
  const bool missed = cell.projection_missed;
  cell.projection_missed = Severity(figure.projected_status) >=
                           Severity(rule.policy.projected_miss_at);
  // Raised as the projection starts to miss: one resolved while it still
  // does comes back only once it recovered and misses again.
  if (!cell.projection_missed || missed ||
      (cell.open_rules & Bit(v1::ALERT_RULE_PROJECTED_MISS)) != 0) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(v1::Alert * alert,
                   OpenAlert(cell_key, rule, v1::ALERT_RULE_PROJECTED_MISS,
                             time, cell, pending));
  cell.open_rules |= Bit(v1::ALERT_RULE_PROJECTED_MISS);
  ShowFigure(cell, figure, time, *alert);
  return absl::OkStatus();
}

absl::Status AlertEngine::RaiseStale(const std::string& cell_key,
                                     const CellRule& rule, CellStatus& cell,
                                     Pending& pending) {
  const absl::Time time = cell.stale_due;
  cell.stale_due = absl::InfiniteFuture();
  cell.feed_checked = true;
  if ((cell.open_rules & Bit(v1::ALERT_RULE_STALE_FEED)) != 0) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(v1::Alert * alert,
                   OpenAlert(cell_key, rule, v1::ALERT_RULE_STALE_FEED, time,
                             cell, pending));
  cell.open_rules |= Bit(v1::ALERT_RULE_STALE_FEED);
  *alert->mutable_data_due() = ToProto(time);
  ShowFigure(cell, {KpiStatus::kNoData, cell.target, std::nullopt}, time,
             *alert);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> AlertEngine::NextFeedCheck(const Definitions& defs,
                                                   const KpiInfo& kpi) {
  const std::string schedule = FeedScheduleKey(kpi);
  if (auto it = next_feed_checks_.find(schedule);
      it != next_feed_checks_.end()) {
    return it->second;
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> stored,
                   store_.NextFeedCheck(schedule));
  // The first period starting when the schedule was declared or later.
  int64_t next = 0;
  if (stored) {
    next = *stored;
  } else {
    const Period first =
        defs.calendar().Containing(kpi.feed->cadence, kpi.feed->since);
    next = first.index +
           (defs.calendar().Start(first) < kpi.feed->since ? 1 : 0);
  }
  next_feed_checks_[schedule] = next;
  return next;
}

absl::StatusOr<absl::Time> AlertEngine::EarliestFeedCheck(
    const Definitions& defs) {
  absl::Time earliest = absl::InfiniteFuture();
  for (KpiIndex k = 0; k < defs.kpi_count(); ++k) {
    const KpiInfo& kpi = defs.kpi(k);
    if (!kpi.feed || kpi.feed->since == absl::InfiniteFuture()) continue;
    ASSIGN_OR_RETURN(int64_t next, NextFeedCheck(defs, kpi));
    const Period period{kpi.feed->cadence, static_cast<int32_t>(next)};
    earliest = std::min(earliest,
                        defs.calendar().End(period) + kpi.feed->due_after);
  }
  return earliest;
}

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>>
AlertEngine::CheckFeeds(const std::shared_ptr<const Definitions>& snapshot,
                        absl::Time by, Pending& pending) {
  const Definitions& defs = *snapshot;
  std::vector<std::pair<std::string, int64_t>> checked;
  size_t cells = 0;
  for (KpiIndex k = 0; k < defs.kpi_count(); ++k) {
    const KpiInfo& kpi = defs.kpi(k);
    if (!kpi.feed || kpi.feed->since == absl::InfiniteFuture()) continue;
    const FeedSchedule& feed = *kpi.feed;
    ASSIGN_OR_RETURN(int64_t next, NextFeedCheck(defs, kpi));
    const int64_t first = next;
    // A whole period at a time, while the batch has room: the cells looked
    // at, not only those made, count, so a long way to go is walked in
    // bounded steps.
    while (cells < options_.due_batch) {
      const Period period{feed.cadence, static_cast<int32_t>(next)};
      if (defs.calendar().End(period) + feed.due_after > by) break;
      for (UnitIndex unit = 0; unit < defs.unit_count(); ++unit) {
        if (!defs.FeedDue(k, unit, period)) continue;
        ++cells;
        const std::string key =
            CellKey(kpi.definition.kpi_id(), defs.unit(unit).definition.unit_id(),
                    period);
        ASSIGN_OR_RETURN(CellStatus * cell, pending.Cell(key));
        // Checked already, or due by itself (see Evaluate). Any other cell,
        // new or made before the schedule (an action, a record without a
        // value), is due now, as a replay, which reads it first, makes it.
        if (cell->feed_checked || cell->stale_due != absl::InfiniteFuture()) {
          continue;
        }
        std::optional<CellRule> rule = RuleFor(snapshot, key);
        if (!rule || !rule->feed_due) continue;
        RETURN_IF_ERROR(Advance(key, &*rule, by, *cell, pending));
      }
      ++next;
    }
    if (next != first) {
      pending.SetNextFeedCheck(FeedScheduleKey(kpi), next);
      checked.emplace_back(FeedScheduleKey(kpi), next);
    }
  }
  return checked;
}

absl::Status AlertEngine::RaiseOverdue(const std::string& cell_key,
                                       const CellRule& rule, CellStatus& cell,
                                       Pending& pending) {
  const absl::Time time = cell.action_overdue_due;
  cell.action_overdue_due = absl::InfiniteFuture();
  // Back to green, the action did its work, late or not.
  if (!IsWarning(cell.status) ||
      (cell.open_rules & Bit(v1::ALERT_RULE_ACTION_OVERDUE)) != 0) {
    return absl::OkStatus();
  }
  // The alert that action resolved.
  ASSIGN_OR_RETURN(
      v1::Alert * resolved,
      pending.Alert(AlertIdOf(cell_key,
                              static_cast<v1::AlertRule>(cell.overdue_rule),
                              cell.overdue_generation)));
  if (resolved == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(v1::Alert * alert,
                   OpenAlert(cell_key, rule, v1::ALERT_RULE_ACTION_OVERDUE,
                             time, cell, pending));
  cell.open_rules |= Bit(v1::ALERT_RULE_ACTION_OVERDUE);
  alert->set_corrective_action(resolved->corrective_action());
  alert->set_corrective_action_owner(resolved->corrective_action_owner());
  *alert->mutable_corrective_action_due() = resolved->corrective_action_due();
  ShowFigure(cell, FigureAt(rule, cell, time), time, *alert);
  return absl::OkStatus();
}

absl::Status AlertEngine::RaiseNoAction(const std::string& cell_key,
                                        const CellRule& rule,
                                        CellStatus& cell, Pending& pending) {
  const absl::Time time = cell.no_action_due;
  cell.no_action_due = absl::InfiniteFuture();
  if (cell.status != KpiStatus::kRed ||
      (cell.open_rules & Bit(v1::ALERT_RULE_NO_CORRECTIVE_ACTION)) != 0) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(v1::Alert * alert,
                   OpenAlert(cell_key, rule,
                             v1::ALERT_RULE_NO_CORRECTIVE_ACTION, time, cell,
                             pending));
  cell.open_rules |= Bit(v1::ALERT_RULE_NO_CORRECTIVE_ACTION);
  *alert->mutable_red_since() = ToProto(cell.red_since);
  ShowFigure(cell, FigureAt(rule, cell, time), time, *alert);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Alert*>> AlertEngine::OpenAlertsOf(
    const std::string& cell_key, const CellStatus& cell, Pending& pending) {
  std::vector<v1::Alert*> open;
  for (v1::AlertRule rule :
       {v1::ALERT_RULE_STATUS_CHANGE, v1::ALERT_RULE_WORSENING,
        v1::ALERT_RULE_NO_CORRECTIVE_ACTION, v1::ALERT_RULE_PROJECTED_MISS,
        v1::ALERT_RULE_STALE_FEED, v1::ALERT_RULE_ACTION_OVERDUE}) {
    // The status rule's is indexed alone; the others' by the cell's bits.
    if (rule != v1::ALERT_RULE_STATUS_CHANGE &&
        (cell.open_rules & Bit(rule)) == 0) {
      continue;
    }
    ASSIGN_OR_RETURN(v1::Alert * alert, OpenAlertOf(cell_key, rule, pending));
    if (alert != nullptr) open.push_back(alert);
  }
  return open;
}

absl::Status AlertEngine::Escalate(const std::string& cell_key,
                                   const CellRule& rule, CellStatus& cell,
                                   Pending& pending) {
  const absl::Time time = cell.escalation_due;
  cell.escalation_due = absl::InfiniteFuture();
  const absl::Duration after = rule.policy.escalate_after;
  const Definitions& defs = *rule.definitions;
  ASSIGN_OR_RETURN(std::vector<v1::Alert*> open,
                   OpenAlertsOf(cell_key, cell, pending));
  for (v1::Alert* alert : open) {
    if (!alert->has_next_escalation_time()) continue;
    const absl::Time due = FromTimestamp(alert->next_escalation_time());
    if (due > time) {
      cell.escalation_due = std::min(cell.escalation_due, due);
      continue;
    }
    alert->clear_next_escalation_time();
    if (alert->state() != v1::ALERT_STATE_OPEN) continue;
    const std::optional<UnitIndex> unit = defs.FindUnit(alert->key().unit_id());
    if (!unit) continue;
    // Self first, root last; the next owner above the level reached.
    const absl::Span<const UnitIndex> path = defs.PathToRoot(*unit);
    for (size_t level = alert->escalation_level() + 1; level < path.size();
         ++level) {
      const std::string& owner = defs.unit(path[level]).definition.owner();
      if (owner.empty()) continue;
      alert->set_escalation_level(static_cast<int32_t>(level));
      alert->set_escalated_to(owner);
      *alert->mutable_escalated_time() = ToProto(time);
      *alert->mutable_updated_time() = ToProto(time);
      alert->set_version(alert->version() + 1);
      if (level + 1 < path.size()) {
        ScheduleEscalation(after, time, *alert, cell);
      }
      break;
    }
  }
  return absl::OkStatus();
}

absl::Status AlertEngine::ApplyAction(const eventlog::LogRecord& record,
                                      Pending& pending) {
  v1::EventEnvelope envelope;
  const bool parsed = envelope.ParseFromString(record.value);
  if (parsed && envelope.has_silence()) {
    ApplySilence(envelope.silence(), pending);
    return absl::OkStatus();
  }
  if (!parsed || !envelope.has_alert_action()) {
    STRATA_LOG(ERROR) << "alerts: skipping malformed action at offset "
                      << record.offset;
    return absl::OkStatus();
  }
  v1::AlertAction& action = *envelope.mutable_alert_action();
  // Actions of older versions carry no time of their own: their log time.
  if (!action.has_acted_at()) {
    *action.mutable_acted_at() =
        ToProto(absl::FromUnixMillis(record.timestamp_ms));
  }
  const absl::Time acted_at = FromTimestamp(action.acted_at());
  const std::string cell_key(CellKeyOfAlert(action.alert_id()));
  ASSIGN_OR_RETURN(CellStatus * cell, pending.Cell(cell_key));
  ASSIGN_OR_RETURN(std::vector<std::string> * waiting,
                   pending.Deferred(cell_key));
  // In time order, after those taken at the same instant.
  auto later = std::upper_bound(
      waiting->begin(), waiting->end(), acted_at,
      [](absl::Time t, const std::string& queued) { return t < ActedAt(queued); });
  waiting->insert(later, envelope.SerializeAsString());
  cell->action_due = std::min(cell->action_due, acted_at);
  // It applies once the cell's time reaches it, in order with the cell's
  // judgements: at once when the cell is past it already (it was on its
  // way while later records were read), else by the clock or before the
  // next record judged after it, as a replay, which reads every action
  // first, does.
  std::optional<CellRule> rule = RuleFor(definitions_.Current(), cell_key);
  return Advance(cell_key, rule ? &*rule : nullptr, cell->judged_at, *cell,
                 pending);
}

void AlertEngine::ApplySilence(const v1::Silence& silence, Pending& pending) {
  auto [it, added] = silences_.try_emplace(silence.silence_id(), silence);
  if (!added) {
    v1::Silence& known = it->second;
    if (FromTimestamp(silence.ends()) < FromTimestamp(known.ends())) {
      *known.mutable_ends() = silence.ends();
      known.set_expired_by(silence.expired_by());
    }
  }
  pending.PutSilence(it->second);
}

std::string AlertEngine::SilenceFor(const std::string& cell_key,
                                    v1::AlertRule rule,
                                    absl::Time time) const {
  if (silences_.empty()) return "";
  absl::StatusOr<CellKeyParts> parts = ParseCellKey(cell_key);
  if (!parts.ok()) return "";
  const std::shared_ptr<const Definitions> defs = definitions_.Current();
  const std::optional<UnitIndex> unit = defs->FindUnit(parts->unit_id);
  if (!unit) return "";
  // In the shape of the cell's period, which a later reorg does not change.
  const absl::Span<const UnitIndex> path =
      defs->PathToRoot(*unit, parts->period);
  std::string covering;
  for (const auto& [id, silence] : silences_) {
    if (silence.rule() != v1::ALERT_RULE_UNSPECIFIED && silence.rule() != rule) {
      continue;
    }
    // Never before it was created: a replay, which knows every silence
    // first, must not silence what was raised before it.
    const absl::Time starts = std::max(FromTimestamp(silence.starts()),
                                       FromTimestamp(silence.created_time()));
    if (time < starts || time >= FromTimestamp(silence.ends())) continue;
    const std::optional<UnitIndex> root = defs->FindUnit(silence.unit_id());
    if (!root || std::find(path.begin(), path.end(), *root) == path.end()) {
      continue;
    }
    // The same one whichever order the map is in.
    if (covering.empty() || id < covering) covering = id;
  }
  return covering;
}

absl::Status AlertEngine::ApplyActionsDue(const std::string& cell_key,
                                          CellStatus& cell, Pending& pending) {
  ASSIGN_OR_RETURN(std::vector<std::string> * waiting,
                   pending.Deferred(cell_key));
  const absl::Time due = cell.action_due;
  size_t taken = 0;
  for (; taken < waiting->size() && ActedAt((*waiting)[taken]) <= due;
       ++taken) {
    v1::EventEnvelope envelope;
    if (!envelope.ParseFromString((*waiting)[taken])) continue;  // Parsed once.
    ASSIGN_OR_RETURN(v1::Alert * alert,
                     pending.Alert(envelope.alert_action().alert_id()));
    // An action on an alert that never was applies to nothing.
    if (alert == nullptr) continue;
    RETURN_IF_ERROR(ApplyActionTo(envelope, due, *alert, cell, pending));
  }
  waiting->erase(waiting->begin(), waiting->begin() + taken);
  cell.action_due =
      waiting->empty() ? absl::InfiniteFuture() : ActedAt(waiting->front());
  return absl::OkStatus();
}

absl::Status AlertEngine::ApplyActionTo(const v1::EventEnvelope& envelope,
                                        absl::Time time, v1::Alert& alert,
                                        CellStatus& cell, Pending& pending) {
  const v1::AlertAction& action = envelope.alert_action();
  const std::string& who = envelope.producer().principal();
  if (action.has_acknowledge()) {
    if (alert.state() != v1::ALERT_STATE_OPEN) return absl::OkStatus();
    alert.set_state(v1::ALERT_STATE_ACKNOWLEDGED);
    // Acted on, it escalates no further (unless it opens again).
    alert.clear_next_escalation_time();
    alert.set_acknowledged_by(who);
    alert.set_acknowledge_note(action.acknowledge().note());
  } else if (action.has_resolve()) {
    if (alert.state() == v1::ALERT_STATE_RESOLVED) return absl::OkStatus();
    Resolve(action.resolve(), who, alert);
    RETURN_IF_ERROR(Closed(alert, cell, pending));
    if (action.resolve().has_due()) {
      // The latest action is the one watched; one due already is late now.
      cell.action_overdue_due =
          std::max(FromTimestamp(action.resolve().due()), time);
      cell.overdue_rule = alert.rule();
      cell.overdue_generation = alert.generation();
    }
    RETURN_IF_ERROR(CorrectiveActionRecorded(
        std::string(CellKeyOfAlert(alert.alert_id())), action.resolve(), who,
        time, cell, pending));
  } else {
    return absl::OkStatus();
  }
  // Applied late (see ApplyAction), an action does not move time back.
  *alert.mutable_updated_time() =
      ToProto(std::max(time, FromTimestamp(alert.updated_time())));
  alert.set_version(alert.version() + 1);
  return absl::OkStatus();
}

void AlertEngine::Resolve(const v1::AlertAction::Resolve& resolve,
                          const std::string& who, v1::Alert& alert) {
  alert.set_state(v1::ALERT_STATE_RESOLVED);
  alert.clear_next_escalation_time();
  alert.set_resolved_by(who);
  alert.set_corrective_action(resolve.corrective_action());
  alert.set_corrective_action_owner(resolve.owner());
  if (resolve.has_due()) {
    *alert.mutable_corrective_action_due() = resolve.due();
  }
}

absl::Status AlertEngine::Closed(const v1::Alert& alert, CellStatus& cell,
                                 Pending& pending) {
  const std::string cell_key(CellKeyOfAlert(alert.alert_id()));
  ASSIGN_OR_RETURN(AlertIndex * index,
                   pending.Index(AlertIndexKey(cell_key, alert.rule())));
  // An older generation's resolution changes nothing of the current one.
  if (index->generation != alert.generation()) return absl::OkStatus();
  index->open = false;
  cell.open_rules &= ~Bit(alert.rule());
  switch (alert.rule()) {
    case v1::ALERT_RULE_STATUS_CHANGE:
      index->best_since_resolved = static_cast<KpiStatus>(alert.status());
      break;
    case v1::ALERT_RULE_WORSENING:
      // Worse again means worse than now.
      cell.best_score = cell.last_score;
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

absl::Status AlertEngine::CorrectiveActionRecorded(
    const std::string& cell_key, const v1::AlertAction::Resolve& resolve,
    const std::string& who, absl::Time time, CellStatus& cell,
    Pending& pending) {
  // A red spell with a corrective action needs no reminder of one, and the
  // reminder raised already is answered by it.
  cell.no_action_due = absl::InfiniteFuture();
  if ((cell.open_rules & Bit(v1::ALERT_RULE_NO_CORRECTIVE_ACTION)) == 0) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(
      v1::Alert * reminder,
      OpenAlertOf(cell_key, v1::ALERT_RULE_NO_CORRECTIVE_ACTION, pending));
  if (reminder == nullptr) return absl::OkStatus();
  Resolve(resolve, who, *reminder);
  RETURN_IF_ERROR(Closed(*reminder, cell, pending));
  *reminder->mutable_updated_time() =
      ToProto(std::max(time, FromTimestamp(reminder->updated_time())));
  reminder->set_version(reminder->version() + 1);
  return absl::OkStatus();
}

absl::StatusOr<v1::Silence> AlertEngine::WaitForSilence(
    const std::string& silence_id, absl::Time ends, absl::Duration timeout) {
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  std::unique_lock<std::mutex> lock(changed_mu_);
  while (true) {
    ASSIGN_OR_RETURN(std::optional<v1::Silence> silence,
                     store_.GetSilence(silence_id));
    if (silence && FromTimestamp(silence->ends()) <= ends) return *silence;
    if (changed_cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return absl::DeadlineExceededError(
          absl::StrCat("silence ", silence_id, " not applied in time"));
    }
  }
}

absl::StatusOr<v1::Alert> AlertEngine::WaitForChange(
    const std::string& alert_id, int64_t version, absl::Duration timeout) {
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  std::unique_lock<std::mutex> lock(changed_mu_);
  while (true) {
    ASSIGN_OR_RETURN(std::optional<v1::Alert> alert, store_.GetAlert(alert_id));
    if (alert && alert->version() > version) return *alert;
    if (changed_cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return absl::DeadlineExceededError(
          absl::StrCat("alert ", alert_id, " did not change in time"));
    }
  }
}

}  // namespace strata::alerts
