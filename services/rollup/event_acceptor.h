#pragma once

// Decides what each KPI event read from the log changes: stage A
// ("accept") of services/rollup/SCALE_OUT.md. The first copy of an event id
// is the fact: an identical repeat counts once, a different payload under
// a known id loses (counted and logged); a correction replaces the value of
// the event it names (refused, and counted, when that event is unknown or
// counts elsewhere); an event for a closed period waits for a decision
// (PeriodClosings), and an approved one is folded once its close is
// complete. What counts goes to the sink as an EventChange.
//
// The ids decided since the last TakeAccepted() are kept here, those
// handed off but not yet durable are asked of `in_flight`, and the rest
// read from the store, so a repeat is recognised wherever its first copy
// is. One thread applies.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/definitions/definitions.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "services/rollup/applied_event.h"
#include "services/rollup/event_change.h"
#include "services/rollup/period_closings.h"
#include "services/rollup/rollup_stats.h"
#include "services/rollup/rollup_store.h"
#include "strata/v1/events.pb.h"

namespace strata::rollup {

class EventAcceptor {
 public:
  // Folds what an event changes; `approved_late`: an approved event of a
  // closed period, whose cells keep their figures as reported.
  using ChangeSink = std::function<absl::Status(
      const Definitions& defs, const EventChange& change, bool approved_late)>;
  // What the batch being made durable holds for an id, or nullptr.
  using InFlight = std::function<const AppliedEvent*(absl::string_view id)>;

  EventAcceptor(RollupStore& store, DefinitionsFollower& definitions,
                PeriodClosings& closings, RollupStats& stats,
                ChangeSink sink, InFlight in_flight)
      : store_(store),
        definitions_(definitions),
        closings_(closings),
        stats_(stats),
        sink_(std::move(sink)),
        in_flight_(std::move(in_flight)) {}

  // The definitions events are resolved in: the latest read, at least.
  void Refresh() { defs_ = definitions_.Current(); }
  const std::shared_ptr<const Definitions>& definitions() const {
    return defs_;
  }

  // Applies one poll's records in log order: events, closes and decisions.
  // A failure may leave the decisions half applied: Clear() and read again
  // from the committed positions.
  absl::Status Apply(const std::vector<eventlog::LogRecord>& records);

  // The ids decided since the last call, for the store.
  struct Accepted {
    absl::flat_hash_map<std::string, AppliedEvent> events;
    int64_t new_events = 0;  // Ids among them decided for the first time.
  };
  Accepted TakeAccepted();
  // How many ids were decided since the last TakeAccepted().
  size_t pending() const { return pending_events_.size(); }

  // Forgets what is not in the store.
  void Clear();

 private:
  // An event of a poll, with its definitions resolved and where it was read.
  struct Located {
    const v1::KpiEvent* event;
    const eventlog::LogRecord* record;
    uint64_t fingerprint = 0;
    KpiIndex kpi = 0;
    UnitIndex unit = 0;
  };

  // Applies the events of one poll between control records.
  absl::Status ApplyEvents(std::vector<Located>& events);
  // A period close or a decision on a pending event, read from `record`.
  absl::Status ApplyControl(const v1::EventEnvelope& envelope,
                            const eventlog::LogRecord& record);
  absl::Status Decide(const v1::PendingDecision& decision, int32_t partition);
  // Folds an approved pending event in, keeping the reported figures of
  // the closed cells it changes.
  absl::Status ApplyApproved(const v1::PendingEvent& pending);
  // Keeps an event for a closed period pending instead of folding it.
  absl::Status Hold(const Located& event, const Period& closed);
  // `first_seen`: the id is new (not an approved pending event).
  absl::Status ApplyEvent(const Located& event, const Definitions& defs,
                          bool first_seen);
  // A correction of an event applied before: refused (and counted) when
  // that event is unknown or differs in KPI, unit or time.
  absl::Status ApplyCorrection(const Located& correction,
                               const Definitions& defs, bool first_seen);
  // This hand-off's record of `event_id`, copied in from the batch in
  // flight or the store when need be; nullptr when never applied.
  absl::StatusOr<AppliedEvent*> PendingCopyOf(absl::string_view event_id);
  // Hands the change of one event from `before` to `after` (none: it does
  // not count) to the sink.
  absl::Status Emit(const Definitions& defs, const Located& event,
                    std::optional<int64_t> before,
                    std::optional<int64_t> after);

  RollupStore& store_;
  DefinitionsFollower& definitions_;
  PeriodClosings& closings_;
  RollupStats& stats_;
  const ChangeSink sink_;
  const InFlight in_flight_;
  std::shared_ptr<const Definitions> defs_;
  bool approving_ = false;  // Folding an approved pending event.
  // The events applied or corrected since the last hand-off, by id.
  absl::flat_hash_map<std::string, AppliedEvent> pending_events_;
  int64_t new_events_ = 0;  // Ids among them applied for the first time.
};

}  // namespace strata::rollup
