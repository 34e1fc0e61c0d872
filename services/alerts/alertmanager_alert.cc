#include "services/alerts/alertmanager_alert.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "libs/streams/status_word.h"
#include "libs/streams/timestamps.h"

namespace strata::alerts {
namespace {

// "ALERT_RULE_STALE_FEED" -> "stale_feed"; a rule this build does not know
// (written by a newer one) -> "rule_7".
std::string RuleLabel(v1::AlertRule rule) {
  absl::string_view name = v1::AlertRule_Name(rule);
  if (!absl::ConsumePrefix(&name, "ALERT_RULE_") || name.empty()) {
    return absl::StrCat("rule_", static_cast<int>(rule));
  }
  return absl::AsciiStrToLower(name);
}

// "stale_feed" -> "StrataStaleFeed".
std::string AlertName(const std::string& rule_label) {
  std::string name = "Strata";
  bool upper = true;
  for (char c : rule_label) {
    if (c == '_') {
      upper = true;
      continue;
    }
    name.push_back(upper ? absl::ascii_toupper(c) : c);
    upper = false;
  }
  return name;
}

std::string StatusLabel(v1::KpiStatus status) {
  const std::string word = StatusWord(status);
  return word.empty() ? "none" : word;
}

std::string StateLabel(v1::AlertState state) {
  switch (state) {
    case v1::ALERT_STATE_ACKNOWLEDGED:
      return "acknowledged";
    case v1::ALERT_STATE_RESOLVED:
      return "resolved";
    default:
      return "open";
  }
}

// Figures as people read them: ten significant digits, so no binary noise
// shows; scores and percentages to their usual precision.
std::string Number(double value) { return absl::StrFormat("%.10g", value); }
std::string Score(double score) { return absl::StrFormat("%.2f", score); }
std::string Percent(double pct) { return absl::StrFormat("%+.1f%%", pct); }

// Red, amber or green: a value judged against a target.
bool Judged(v1::KpiStatus status) {
  return status == v1::KPI_STATUS_GREEN || status == v1::KPI_STATUS_AMBER ||
         status == v1::KPI_STATUS_RED;
}

// What the rule says happened, for the notification's first line.
std::string Condition(const v1::Alert& alert) {
  switch (alert.rule()) {
    case v1::ALERT_RULE_WORSENING:
      return absl::StrCat("score fell to ", Score(alert.score()), " from ",
                          Score(alert.best_score()));
    case v1::ALERT_RULE_NO_CORRECTIVE_ACTION:
      return "red with no corrective action";
    case v1::ALERT_RULE_PROJECTED_MISS:
      return absl::StrCat("projected to end at ", Number(alert.projected()),
                          " (", StatusLabel(alert.projected_status()), ")");
    case v1::ALERT_RULE_STALE_FEED:
      return absl::StrCat("no data by ", Rfc3339(FromTimestamp(alert.data_due())));
    case v1::ALERT_RULE_ACTION_OVERDUE:
      return absl::StrCat("corrective action overdue: ",
                          alert.corrective_action());
    default: {
      std::string text = StatusLabel(alert.status());
      if (Judged(alert.status())) {
        absl::StrAppend(&text, ", ", Number(alert.actual()), " against ",
                        Number(alert.has_expected() ? alert.expected()
                                                    : alert.target()),
                        alert.has_expected() &&
                                alert.expected() != alert.target()
                            ? absl::StrCat(" expected by then (target ",
                                           Number(alert.target()), ")")
                            : " target");
      }
      return text;
    }
  }
}

}  // namespace

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

alertmanager::PostableAlert ToPostableAlert(const v1::Alert& alert,
                                            const Definitions& definitions,
                                            absl::Time now,
                                            absl::Duration firing_for) {
  alertmanager::PostableAlert out;
  const v1::RollupKey& key = alert.key();
  std::string kpi_name = key.kpi_id(), unit_name = key.unit_id(), owner;
  if (std::optional<UnitIndex> u = definitions.FindUnit(key.unit_id())) {
    const v1::OrgUnit& unit = definitions.unit(*u).definition;
    if (!unit.name().empty()) unit_name = unit.name();
    owner = unit.owner();
  }
  if (std::optional<KpiIndex> k = definitions.FindKpi(key.kpi_id())) {
    const v1::Kpi& kpi = definitions.kpi(*k).definition;
    if (!kpi.name().empty()) kpi_name = kpi.name();
    if (owner.empty()) owner = kpi.owner();
  }

  auto& labels = *out.mutable_labels();
  const std::string rule = RuleLabel(alert.rule());
  labels["alertname"] = AlertName(rule);
  labels["rule"] = rule;
  labels["kpi"] = key.kpi_id();
  labels["unit"] = key.unit_id();
  labels["period"] = key.period().label();
  labels["alert_id"] = alert.alert_id();
  labels["severity"] =
      alert.status() == v1::KPI_STATUS_RED ? "critical" : "warning";
  if (!owner.empty()) labels["owner"] = owner;

  auto& notes = *out.mutable_annotations();
  notes["summary"] = absl::StrCat(kpi_name, " at ", unit_name, ", ",
                                  key.period().label(), ": ", Condition(alert));
  notes["state"] = StateLabel(alert.state());
  notes["status"] = StatusLabel(alert.status());
  // A stale feed's cell may have no data, or data but no target.
  const bool judged = Judged(alert.status());
  if (alert.status() != v1::KPI_STATUS_NO_DATA) {
    notes["actual"] = Number(alert.actual());
  }
  if (judged) {
    notes["target"] = Number(alert.target());
    // Against what the status judged: the part of the target expected by
    // then while the period is open.
    const double expected =
        alert.has_expected() ? alert.expected() : alert.target();
    notes["variance"] = Number(alert.actual() - expected);
    if (expected != 0) {
      notes["variance_pct"] =
          Percent(100 * (alert.actual() - expected) / std::fabs(expected));
    }
    if (alert.has_expected()) notes["expected"] = Number(alert.expected());
  }
  if (alert.has_score()) notes["score"] = Score(alert.score());
  if (alert.has_projected()) notes["projected"] = Number(alert.projected());
  if (!alert.corrective_action().empty()) {
    notes["corrective_action"] = alert.corrective_action();
  }
  if (!alert.corrective_action_owner().empty()) {
    notes["corrective_action_owner"] = alert.corrective_action_owner();
  }
  if (alert.has_corrective_action_due()) {
    notes["corrective_action_due"] =
        Rfc3339(FromTimestamp(alert.corrective_action_due()));
  }
  if (!alert.acknowledged_by().empty()) {
    notes["acknowledged_by"] = alert.acknowledged_by();
  }
  if (!alert.escalated_to().empty()) {
    notes["escalated_to"] = alert.escalated_to();
  }

  // Alertmanager refuses an alert that ends before it starts, and the
  // alerts service's clock may run ahead of the wall clock (tests).
  const absl::Time raised = std::min(FromTimestamp(alert.raised_time()), now);
  absl::Time ends = now + firing_for;
  if (alert.state() == v1::ALERT_STATE_RESOLVED) {
    ends = std::clamp(FromTimestamp(alert.updated_time()), raised, now);
  }
  out.set_starts_at(Rfc3339(raised));
  out.set_ends_at(Rfc3339(ends));
  return out;
}

}  // namespace strata::alerts
