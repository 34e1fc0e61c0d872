#include "services/alerts/alert_actions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/status/quote.h"
#include "libs/status/status_macros.h"
#include "libs/streams/envelope.h"
#include "libs/streams/timestamps.h"
#include "libs/streams/topics.h"

namespace strata::alerts {
namespace {

constexpr absl::Duration kLongestSilence = absl::Hours(24 * 90);
constexpr int64_t kLatestDueSeconds = 7'258'118'400;  // 2200-01-01

absl::Status CheckTime(const google::protobuf::Timestamp& t,
                       absl::string_view field) {
  if (t.nanos() < 0 || t.nanos() > 999'999'999 ||
      t.seconds() < kMinTimestampSeconds || t.seconds() > kMaxTimestampSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": not a valid time (0001-01-01 to 9999-12-31)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Alert> AlertActions::Load(const std::string& alert_id) {
  if (alert_id.empty()) return absl::InvalidArgumentError("alert_id: required");
  ASSIGN_OR_RETURN(std::optional<v1::Alert> alert, store_.GetAlert(alert_id));
  if (!alert) {
    return absl::NotFoundError(
        absl::StrCat("alert_id: unknown alert ", Quoted(alert_id)));
  }
  return *std::move(alert);
}

absl::StatusOr<v1::Alert> AlertActions::Acknowledge(
    const v1::AcknowledgeAlertRequest& request) {
  if (request.acknowledged_by().empty()) {
    return absl::InvalidArgumentError("acknowledged_by: required");
  }
  ASSIGN_OR_RETURN(v1::Alert alert, Load(request.alert_id()));
  if (alert.state() != v1::ALERT_STATE_OPEN) {
    return absl::FailedPreconditionError(
        absl::StrCat("alert_id: alert is ", v1::AlertState_Name(alert.state()),
                     "; only an OPEN alert can be acknowledged"));
  }
  v1::AlertAction action;
  action.mutable_acknowledge()->set_note(request.note());
  return Append(alert, request.acknowledged_by(), std::move(action));
}

absl::StatusOr<v1::Alert> AlertActions::Resolve(
    const v1::ResolveAlertRequest& request) {
  if (request.resolved_by().empty()) {
    return absl::InvalidArgumentError("resolved_by: required");
  }
  if (request.corrective_action().empty()) {
    return absl::InvalidArgumentError(
        "corrective_action: required; record what was done");
  }
  ASSIGN_OR_RETURN(v1::Alert alert, Load(request.alert_id()));
  if (alert.state() == v1::ALERT_STATE_RESOLVED) {
    return absl::FailedPreconditionError(
        "alert_id: alert is already ALERT_STATE_RESOLVED");
  }
  if (request.has_action_due()) {
    RETURN_IF_ERROR(CheckTime(request.action_due(), "action_due"));
    // Watched for (ACTION_OVERDUE) in nanoseconds since 1970.
    if (request.action_due().seconds() >= kLatestDueSeconds) {
      return absl::InvalidArgumentError("action_due: must be before 2200");
    }
  }
  v1::AlertAction action;
  v1::AlertAction::Resolve& resolve = *action.mutable_resolve();
  resolve.set_corrective_action(request.corrective_action());
  resolve.set_owner(request.action_owner());
  if (request.has_action_due()) *resolve.mutable_due() = request.action_due();
  return Append(alert, request.resolved_by(), std::move(action));
}


absl::StatusOr<v1::Silence> AlertActions::CreateSilence(
    const v1::CreateSilenceRequest& request) {
  if (request.created_by().empty()) {
    return absl::InvalidArgumentError("created_by: required");
  }
  if (request.unit_id().empty()) {
    return absl::InvalidArgumentError("unit_id: required");
  }
  if (!v1::AlertRule_IsValid(request.rule())) {
    return absl::InvalidArgumentError(
        absl::StrCat("rule: unknown rule ", request.rule()));
  }
  if (request.reason().empty()) {
    return absl::InvalidArgumentError(
        "reason: required; say why (a reorg, a migration)");
  }
  if (!request.has_ends()) return absl::InvalidArgumentError("ends: required");
  RETURN_IF_ERROR(CheckTime(request.ends(), "ends"));
  const absl::Time now = engine_.Now();
  absl::Time starts = now;
  if (request.has_starts()) {
    RETURN_IF_ERROR(CheckTime(request.starts(), "starts"));
    starts = std::max(now, FromTimestamp(request.starts()));
  }
  const absl::Time ends = FromTimestamp(request.ends());
  if (ends <= starts) {
    return absl::InvalidArgumentError("ends: must be after starts and now");
  }
  if (ends - starts > kLongestSilence) {
    return absl::InvalidArgumentError(
        "ends: a silence lasts at most 90 days; silences must expire");
  }
  v1::Silence silence;
  silence.set_silence_id(NewRecordId().substr(0, 16));
  silence.set_unit_id(request.unit_id());
  silence.set_rule(request.rule());
  *silence.mutable_starts() = ToTimestamp(starts);
  *silence.mutable_ends() = request.ends();
  silence.set_reason(request.reason());
  silence.set_created_by(request.created_by());
  *silence.mutable_created_time() = ToTimestamp(now);
  return AppendSilence(silence, request.created_by());
}

absl::StatusOr<v1::Silence> AlertActions::ExpireSilence(
    const v1::ExpireSilenceRequest& request) {
  if (request.expired_by().empty()) {
    return absl::InvalidArgumentError("expired_by: required");
  }
  if (request.silence_id().empty()) {
    return absl::InvalidArgumentError("silence_id: required");
  }
  ASSIGN_OR_RETURN(std::optional<v1::Silence> silence,
                   store_.GetSilence(request.silence_id()));
  if (!silence) {
    return absl::NotFoundError(absl::StrCat("silence_id: unknown silence ",
                                            Quoted(request.silence_id())));
  }
  const absl::Time now = engine_.Now();
  if (FromTimestamp(silence->ends()) <= now) {
    return absl::FailedPreconditionError(
        "silence_id: the silence has expired already");
  }
  *silence->mutable_ends() = ToTimestamp(now);
  silence->set_expired_by(request.expired_by());
  return AppendSilence(*silence, request.expired_by());
}

absl::StatusOr<std::vector<v1::Silence>> AlertActions::ListSilences(
    bool include_expired) {
  ASSIGN_OR_RETURN(std::vector<v1::Silence> silences, store_.ListSilences());
  if (include_expired) return silences;
  const absl::Time now = engine_.Now();
  std::vector<v1::Silence> active;
  for (v1::Silence& silence : silences) {
    if (FromTimestamp(silence.ends()) > now) active.push_back(std::move(silence));
  }
  return active;
}

absl::StatusOr<v1::Silence> AlertActions::AppendSilence(
    const v1::Silence& silence, const std::string& principal) {
  v1::EventEnvelope envelope = NewEnvelope(producer_);
  envelope.mutable_producer()->set_principal(principal);
  *envelope.mutable_silence() = silence;
  RETURN_IF_ERROR(log_.Append(
      kAlertActionsTopic, {eventlog::AppendRecord{
                              silence.silence_id(), envelope.SerializeAsString()}}));
  return engine_.WaitForSilence(silence.silence_id(),
                                FromTimestamp(silence.ends()),
                                absl::Seconds(10));
}

absl::StatusOr<v1::Alert> AlertActions::Append(const v1::Alert& alert,
                                               const std::string& principal,
                                               v1::AlertAction action) {
  action.set_alert_id(alert.alert_id());
  *action.mutable_alert_updated_time() = alert.updated_time();
  // Taken on the alert as the actor saw it, so never before its last
  // change: rollup judges by its own clock, which may run ahead of ours,
  // and a replay applies actions by this time.
  *action.mutable_acted_at() = ToTimestamp(std::max(
      engine_.Now(), FromTimestamp(alert.updated_time()) + absl::Nanoseconds(1)));
  v1::EventEnvelope envelope = NewEnvelope(producer_);
  envelope.mutable_producer()->set_principal(principal);
  *envelope.mutable_alert_action() = std::move(action);
  RETURN_IF_ERROR(
      log_.Append(kAlertActionsTopic,
                  {eventlog::AppendRecord{alert.alert_id(),
                                          envelope.SerializeAsString()}}));
  return engine_.WaitForChange(alert.alert_id(), alert.version(),
                               absl::Seconds(10));
}

}  // namespace strata::alerts
