#include "services/rollup/event_acceptor.h"

#include "absl/strings/str_cat.h"
#include "libs/aggregation/fixed_point.h"
#include "libs/logging/log.h"
#include "libs/period/period.h"
#include "libs/status/status_macros.h"
#include "libs/streams/kpi_event_identity.h"
#include "libs/streams/timestamps.h"

namespace strata::rollup {

absl::Status EventAcceptor::Apply(
    const std::vector<eventlog::LogRecord>& records) {
  google::protobuf::Arena arena;
  std::vector<Located> events;
  for (const eventlog::LogRecord& record : records) {
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
  return ApplyEvents(events);
}

EventAcceptor::Accepted EventAcceptor::TakeAccepted() {
  Accepted accepted{std::move(pending_events_), new_events_};
  pending_events_.clear();  // Valid but unspecified after the move.
  new_events_ = 0;
  return accepted;
}

void EventAcceptor::Clear() {
  pending_events_.clear();
  new_events_ = 0;
}

absl::Status EventAcceptor::ApplyControl(const v1::EventEnvelope& envelope,
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

absl::Status EventAcceptor::Decide(const v1::PendingDecision& decision,
                                  int32_t partition) {
  ASSIGN_OR_RETURN(std::optional<v1::PendingEvent> pending,
                   closings_.Pending(decision.event_id()));
  if (!pending || pending->partition() != partition) {
    ++stats_.decisions_ignored;
    STRATA_LOG(WARNING) << "rollup: a decision on '" << decision.event_id()
                        << "', which does not wait; ignored";
    return absl::OkStatus();
  }
  if (pending->approved()) {
    // Two decisions raced to the log (two clients, or two instances, each
    // saw it waiting): the first stands, as the closing service promises.
    if (!decision.approve()) {
      ++stats_.decisions_ignored;
      STRATA_LOG(WARNING) << "rollup: a rejection of '" << decision.event_id()
                          << "', approved by '" << pending->decided_by()
                          << "' before; ignored";
    }
    return absl::OkStatus();
  }
  if (!decision.approve()) {
    closings_.Forget(decision.event_id());
    ASSIGN_OR_RETURN(AppliedEvent * seen, PendingCopyOf(decision.event_id()));
    if (seen != nullptr) seen->state = AppliedEvent::State::kRejected;
    return absl::OkStatus();
  }
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

absl::Status EventAcceptor::ApplyApproved(const v1::PendingEvent& pending) {
  closings_.Forget(pending.event().event_id());
  const Definitions& defs = *defs_;
  Located located{&pending.event(), nullptr};
  located.fingerprint = KpiEventFingerprint(pending.event());
  // Held events were validated against the definitions already.
  located.kpi = *defs.FindKpi(pending.event().kpi_id());
  located.unit = *defs.FindUnit(pending.event().unit_id());
  approving_ = true;
  absl::Status applied = pending.event().corrects_event_id().empty()
                             ? ApplyEvent(located, defs, /*first_seen=*/false)
                             : ApplyCorrection(located, defs, /*first_seen=*/false);
  approving_ = false;
  return applied;
}

absl::Status EventAcceptor::Hold(const Located& located, const Period& closed) {
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

absl::Status EventAcceptor::ApplyEvents(std::vector<Located>& events) {
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
    } else if (const AppliedEvent* in_flight = in_flight_(ids[i])) {
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
      // not read yet: catch up once before giving up on it.
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
    if (located.event->corrects_event_id().empty()) {
      RETURN_IF_ERROR(ApplyEvent(located, *defs_, /*first_seen=*/true));
    } else {
      RETURN_IF_ERROR(ApplyCorrection(located, *defs_, /*first_seen=*/true));
    }
  }
  return absl::OkStatus();
}

absl::Status EventAcceptor::ApplyEvent(const Located& located,
                                      const Definitions& defs,
                                      bool first_seen) {
  const v1::KpiEvent& event = *located.event;
  const int64_t value = ToFixedPoint(event.value());
  pending_events_[event.event_id()] =
      AppliedEvent{located.fingerprint, false, KpiEventPlace(event), value};
  if (first_seen) ++new_events_;
  RETURN_IF_ERROR(Emit(defs, located, std::nullopt, value));
  ++stats_.events_applied;
  return absl::OkStatus();
}

absl::StatusOr<AppliedEvent*> EventAcceptor::PendingCopyOf(
    absl::string_view event_id) {
  if (auto it = pending_events_.find(event_id); it != pending_events_.end()) {
    return &it->second;
  }
  std::optional<AppliedEvent> found;
  if (const AppliedEvent* in_flight = in_flight_(event_id)) {
    found = *in_flight;
  } else {
    ASSIGN_OR_RETURN(std::vector<std::optional<AppliedEvent>> committed,
                     store_.SeenEvents({event_id}));
    found = committed[0];
  }
  if (!found) return nullptr;
  return &pending_events_.emplace(std::string(event_id), *found).first->second;
}

absl::Status EventAcceptor::ApplyCorrection(const Located& located,
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
  return Emit(defs, located, before, after);
}

absl::Status EventAcceptor::Emit(const Definitions& defs,
                                 const Located& located,
                                 std::optional<int64_t> before,
                                 std::optional<int64_t> after) {
  const v1::KpiEvent& event = *located.event;
  const google::protobuf::Timestamp& time = event.event_time();
  // The event a correction changes is the corrected one, under its id.
  const EventChange change{located.kpi,
                           located.unit,
                           {time.seconds(), time.nanos()},
                           event.corrects_event_id().empty()
                               ? event.event_id()
                               : event.corrects_event_id(),
                           before,
                           after};
  return sink_(defs, change, approving_);
}

}  // namespace strata::rollup
