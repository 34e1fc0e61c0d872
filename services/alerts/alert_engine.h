#pragma once

// Compares rolled-up actuals with targets and raises, updates and closes
// alerts.
//
// Reads the rollup changelog, whose records carry each cell's target (a new
// target republishes the cell), and alert actions (acknowledge, resolve).
// Records without a target, of cells no feed schedule wants, are skipped
// unread; repeats (an older version, or
// the same version and target) are dropped. Each poll's changes and the log
// positions they reflect are committed in one WriteBatch; then the changed
// alerts go to the hub's subscribers.
//
// Rule STATUS_CHANGE: a cell whose status becomes AMBER or RED opens an
// alert unless one is open for it; while open, every status change updates
// it. Resolving closes it; a later change opens the next generation.
//
// The other rules (see Alert.rule) open one alert per cell until it is
// resolved; each open alert shows the cell's latest figure. STALE_FEED
// follows cells of a feed schedule without a target too: such a cell is due
// when its data is, and a cell no record reached by then is made by the
// schedule's check on the clock (CheckFeeds), so that a replay, which reads
// the late records first, raises the same alert at the same instant.
//
// Status is judged against the part of the target expected by then (see
// libs/scorecard/judgement.h), so it moves with time alone too. A record is
// judged at the time rollup judged it; each cell keeps the next instant its
// status would change if nothing else came (its due time), and is judged
// again then: before its next record when that comes later (so a replay
// does the same), or on the engine's clock once every record judged before
// that instant has been read (settle_time after it, with the log read to
// its end).
//
// Actions (acknowledge, resolve) apply in time order with the judgements of
// their cell, at the instant they were taken, so that the lifecycle (what
// an acknowledgement holds, what reopens) comes out the same in a replay,
// which reads every action before the records: actions are read first, to
// the end of their topic, and each waits in the store until its cell's
// time reaches it.

#include <atomic>
#include <limits>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/clock/clock.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "libs/eventlog/replay_progress.h"
#include "libs/scorecard/judgement.h"
#include "libs/status/health_report.h"
#include "services/alerts/alert_hub.h"
#include "services/alerts/alert_store.h"
#include "strata/v1/events.pb.h"
#include "strata/v1/rollup.pb.h"

namespace strata::alerts {

struct AlertEngineOptions {
  // Records taken from the log per poll and commit.
  size_t poll_batch = 1024;
  // Longest wait for new records before looking at definition changes.
  absl::Duration poll_timeout = absl::Milliseconds(50);
  // Consumer group reporting the engine's positions (lag).
  std::string consumer_group = "strata-alerts";
  // What due times are compared with. Not owned; the real clock by default.
  Clock* clock = &Clock::Real();
  // How long after a cell's due time it is judged on the clock: records
  // rollup judged before then may still be on their way here.
  absl::Duration settle_time = absl::Seconds(2);
  // Cells judged again per commit when many fall due at once.
  size_t due_batch = 4096;
};

class AlertEngine {
 public:
  AlertEngine(const AlertEngineOptions& options, eventlog::EventLog& log,
              DefinitionsFollower& definitions, AlertStore& store,
              AlertHub& hub);
  ~AlertEngine();

  // Resumes from the stored positions; DATA_LOSS when the store reflects
  // records the log no longer has.
  absl::Status Start();
  void Stop();

  // OK when the alerts can be trusted; UNAVAILABLE while starting, catching
  // up or retrying a failed poll; DATA_LOSS (and the engine stopped) when
  // the log or the store is damaged.
  absl::Status Health() const;
  // Log records replayed since Start(), of those it had to catch up on.
  std::pair<int64_t, int64_t> ReplayCounts() const {
    std::shared_ptr<eventlog::ReplayProgress> progress = Progress();
    if (progress == nullptr) return {0, 0};
    return {progress->replayed(), progress->total()};
  }

  // Records of the changelog and the actions not read yet (the lag), as of
  // the last poll.
  int64_t RecordsBehind() const { return records_behind_.load(); }

  // The engine's time: what actions are stamped with.
  absl::Time Now() const { return options_.clock->Now(); }
  // Through when everything due by the clock (less settle_time) was judged
  // and nothing more was, of the records read by then; InfinitePast before
  // the first time.
  absl::Time JudgedThrough() const {
    const int64_t nanos = judged_through_nanos_.load();
    return nanos == std::numeric_limits<int64_t>::min()
               ? absl::InfinitePast()
               : absl::FromUnixNanos(nanos);
  }

  // Waits until the silence `silence_id` is stored ending at `ends`, then
  // returns it; DEADLINE_EXCEEDED after `timeout`.
  absl::StatusOr<v1::Silence> WaitForSilence(const std::string& silence_id,
                                             absl::Time ends,
                                             absl::Duration timeout);

  // Waits until alert `alert_id` has a version above `version`, then
  // returns it; DEADLINE_EXCEEDED after `timeout`.
  absl::StatusOr<v1::Alert> WaitForChange(const std::string& alert_id,
                                          int64_t version,
                                          absl::Duration timeout);

 private:
  // Changes of one poll, read through to the store.
  class Pending;

  absl::Status StartConsuming();
  void Run();
  // Evaluates one poll's records and commits them with their positions.
  absl::Status Apply(const std::vector<eventlog::LogRecord>& records);
  // Reads again from the committed positions, after a poll that failed
  // part way.
  absl::Status Rewind();
  // Commits next_ to the consumer group (progress for lag monitors: the
  // store's positions are the ones of record), what moved, at most every
  // kReportInterval of real time.
  void ReportPositions();
  static constexpr absl::Duration kReportInterval = absl::Seconds(1);
  absl::Status ApplyAction(const eventlog::LogRecord& record, Pending& pending);
  // Records a silence created or ended early; an end only moves earlier.
  void ApplySilence(const v1::Silence& silence, Pending& pending);
  // The silence covering an alert of `rule` on the cell raised at `time`;
  // empty when none does.
  std::string SilenceFor(const std::string& cell_key, v1::AlertRule rule,
                         absl::Time time) const;
  // Applies an action to its alert at `time`.
  // Applies an action to its alert (of `cell`) at `time`.
  absl::Status ApplyActionTo(const v1::EventEnvelope& envelope,
                             absl::Time time, v1::Alert& alert,
                             CellStatus& cell, Pending& pending);
  // Marks `alert` resolved by `who` with the corrective action.
  static void Resolve(const v1::AlertAction::Resolve& resolve,
                      const std::string& who, v1::Alert& alert);
  // Closes the cell's current alert of `alert`'s rule, when it is that one.
  absl::Status Closed(const v1::Alert& alert, CellStatus& cell,
                      Pending& pending);
  // A corrective action was recorded for the cell: no NO_CORRECTIVE_ACTION
  // alert is due for this red spell, and an open one is resolved with it.
  absl::Status CorrectiveActionRecorded(const std::string& cell_key,
                                        const v1::AlertAction::Resolve& resolve,
                                        const std::string& who,
                                        absl::Time time, CellStatus& cell,
                                        Pending& pending);
  // Applies the cell's actions taken at its action_due.
  absl::Status ApplyActionsDue(const std::string& cell_key, CellStatus& cell,
                               Pending& pending);
  absl::Status Evaluate(const v1::RollupRecord& rollup,
                        const std::string& cell_key, absl::Time time,
                        Pending& pending);

  // How one cell is judged; holds the definitions its references point in.
  struct CellRule {
    std::shared_ptr<const Definitions> definitions;
    JudgingRule judging;
    AlertPolicy policy;
    // When its data is due by the KPI's feed schedule, if it is.
    std::optional<absl::Time> feed_due;
  };
  // A cell as judged at one instant.
  struct Figure {
    KpiStatus status;
    double expected;
    std::optional<double> score;  // None without a value.
    // Where the period is heading, when the KPI projects and can yet.
    std::optional<double> projected = std::nullopt;
    KpiStatus projected_status = KpiStatus::kUnknown;
  };
  // The cell's figure at `time`, its value judged.
  static Figure FigureAt(const CellRule& rule, const CellStatus& cell,
                         absl::Time time);
  // nullopt for a key of no known KPI and period.
  static std::optional<CellRule> RuleFor(
      std::shared_ptr<const Definitions> definitions,
      const std::string& cell_key);
  // Judges `cell` at every due time up to `until`, and applies the actions
  // on its alerts taken by then, all in time order. `rule` null: its KPI is
  // gone; actions only.
  absl::Status Advance(const std::string& cell_key, const CellRule* rule,
                       absl::Time until, CellStatus& cell, Pending& pending);
  // Judges `cell` at `time`, opens or updates its alert, and sets when it
  // is next due. `new_figure`: judged for a new record, not time alone.
  absl::Status JudgeAt(const std::string& cell_key, const CellRule& rule,
                       absl::Time time, CellStatus& cell, Pending& pending,
                       bool new_figure);
  // Records the cell's figure at `time`: on a change of status, opens its
  // STATUS_CHANGE alert (amber or red, none open) or updates the open one;
  // on a new figure alone, updates the open alerts' figures; judges
  // WORSENING. `new_figure`: a new record, not time alone.
  absl::Status SetStatus(const std::string& cell_key, const CellRule& rule,
                         const Figure& figure, absl::Time time,
                         CellStatus& cell, Pending& pending, bool new_figure);
  // The next generation of the cell's alert under `rule`, opened at `time`
  // (silenced if a silence covers it, else escalating by `cell_rule`).
  absl::StatusOr<v1::Alert*> OpenAlert(const std::string& cell_key,
                                       const CellRule& cell_rule,
                                       v1::AlertRule rule, absl::Time time,
                                       CellStatus& cell, Pending& pending);
  // The cell's open alerts, of every rule.
  absl::StatusOr<std::vector<v1::Alert*>> OpenAlertsOf(
      const std::string& cell_key, const CellStatus& cell, Pending& pending);
  // The cell's open alert under `rule`; nullptr when none is.
  absl::StatusOr<v1::Alert*> OpenAlertOf(const std::string& cell_key,
                                         v1::AlertRule rule, Pending& pending);
  // Sets the alert's figures to the cell's, as a new version.
  static void ShowFigure(const CellStatus& cell, const Figure& figure,
                         absl::Time time, v1::Alert& alert);
  static bool ShowsFigure(const CellStatus& cell, const Figure& figure,
                          const v1::Alert& alert);
  // Starts or ends the cell's red spell, and when it needs an action by.
  static void TrackRedSpell(const CellRule& rule, KpiStatus status,
                            absl::Time time, CellStatus& cell);
  // Opens a WORSENING alert when `score` fell far enough below the best.
  absl::Status JudgeWorsening(const std::string& cell_key,
                              const CellRule& rule, const Figure& figure,
                              double score, absl::Time time, CellStatus& cell,
                              Pending& pending);
  // Opens a PROJECTED_MISS alert when the projection starts to miss.
  absl::Status JudgeProjection(const std::string& cell_key,
                               const CellRule& rule, const Figure& figure,
                               absl::Time time, CellStatus& cell,
                               Pending& pending);
  // At the cell's stale_due, no data having come: opens its STALE_FEED
  // alert.
  absl::Status RaiseStale(const std::string& cell_key, const CellRule& rule,
                          CellStatus& cell, Pending& pending);
  // Checks the periods of every feed schedule due by `by` (up to a batch
  // of cells): creates the cells no record has reached, due then, and
  // judges them up to `by`. Returns the schedules checked further (next
  // period to check), to be cached once committed.
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> CheckFeeds(
      const std::shared_ptr<const Definitions>& defs, absl::Time by,
      Pending& pending);
  // The index of the next period to check of `kpi`'s feed schedule.
  absl::StatusOr<int64_t> NextFeedCheck(const Definitions& defs,
                                        const KpiInfo& kpi);
  // The earliest time a feed schedule has a period to check.
  absl::StatusOr<absl::Time> EarliestFeedCheck(const Definitions& defs);
  // At the cell's action_overdue_due: opens its ACTION_OVERDUE alert when
  // the cell is still amber or red.
  absl::Status RaiseOverdue(const std::string& cell_key, const CellRule& rule,
                            CellStatus& cell, Pending& pending);
  // At the cell's no_action_due: opens its NO_CORRECTIVE_ACTION alert.
  absl::Status RaiseNoAction(const std::string& cell_key, const CellRule& rule,
                             CellStatus& cell, Pending& pending);
  // At the cell's escalation_due: escalates each of its open alerts due
  // then to the next owner up the organisation.
  absl::Status Escalate(const std::string& cell_key, const CellRule& rule,
                        CellStatus& cell, Pending& pending);
  // Judges the cells due by the clock (less settle_time), once the log is
  // read to its end; commits them with the positions unchanged.
  absl::Status JudgeDueCells();
  // The time through which every rollup record judged has been read: set
  // once the engine has read to where the log ended when it began to wait
  // (a barrier); nullopt until then.
  absl::StatusOr<std::optional<absl::Time>> ReadThrough();
  // Commits `pending` with `positions` and tells subscribers.
  absl::Status Commit(Pending& pending,
                      absl::flat_hash_map<eventlog::TopicPartition,
                                          eventlog::Position> positions);

  const AlertEngineOptions options_;
  eventlog::EventLog& log_;
  DefinitionsFollower& definitions_;
  AlertStore& store_;
  AlertHub& hub_;
  std::unique_ptr<eventlog::LogConsumer> consumer_;          // Rollups.
  std::unique_ptr<eventlog::LogConsumer> actions_consumer_;  // Actions.
  // Where the engine reads next in each partition, and the record before.
  absl::flat_hash_map<eventlog::TopicPartition, eventlog::Position> next_;
  // What ReportPositions last committed to the group, and when it may
  // next; engine thread only.
  absl::flat_hash_map<eventlog::TopicPartition, int64_t> reported_;
  absl::Time next_report_ = absl::InfinitePast();
  // Where the log ended when a failed batch was rewound: health returns to
  // OK once reading gets there, not on an empty poll in between.
  absl::flat_hash_map<eventlog::TopicPartition, int64_t> retrying_until_;
  bool Recovered();

  std::mutex changed_mu_;
  std::condition_variable changed_cv_;  // After every commit.

  // Set once consuming starts, while status calls may read it: accessed
  // atomically (Progress()).
  std::shared_ptr<eventlog::ReplayProgress> progress_;
  std::shared_ptr<eventlog::ReplayProgress> Progress() const {
    return std::atomic_load(&progress_);
  }
  // At most the earliest due time in the store; engine thread only.
  absl::Time earliest_due_ = absl::InfiniteFuture();
  // The next period to check per feed schedule (KPI id "/" cadence), as
  // committed; engine thread only.
  absl::flat_hash_map<std::string, int64_t> next_feed_checks_;
  // Every silence read, by id; engine thread only. A poll that fails reads
  // its silences again, and applying one twice changes nothing.
  absl::flat_hash_map<std::string, v1::Silence> silences_;
  // What ReadThrough waits to read up to; engine thread only.
  struct Barrier {
    absl::Time judged_before;
    std::vector<std::pair<eventlog::TopicPartition, int64_t>> ends;
  };
  std::optional<Barrier> barrier_;
  HealthReport health_{absl::UnavailableError("alerts: starting")};

  std::atomic<int64_t> judged_through_nanos_{
      std::numeric_limits<int64_t>::min()};
  std::atomic<int64_t> records_behind_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace strata::alerts
