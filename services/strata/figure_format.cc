#include "services/strata/figure_format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "libs/period/period.h"
#include "libs/status/status_macros.h"
#include "libs/streams/timestamps.h"

namespace strata::cli {
namespace {

// For alert lines, in capitals to stand out.
std::string StatusName(v1::KpiStatus status) {
  if (status == v1::KPI_STATUS_NO_DATA) return "NO_DATA";
  const std::string word = absl::AsciiStrToUpper(StatusWord(status));
  return word.empty() ? "NONE" : word;
}

std::string StateName(v1::AlertState state) {
  switch (state) {
    case v1::ALERT_STATE_OPEN:
      return "OPEN";
    case v1::ALERT_STATE_ACKNOWLEDGED:
      return "ACKED";
    case v1::ALERT_STATE_RESOLVED:
      return "RESOLVED";
    default:
      return "?";
  }
}

}  // namespace

std::string StatusSource(const v1::RollupRecord& record) {
  if (record.status_unit_id().empty() ||
      record.status_unit_id() == record.key().unit_id()) {
    return "";
  }
  return absl::StrCat("from ", record.status_unit_id());
}

absl::StatusOr<v1::Period> PeriodOfLabel(const std::string& label) {
  ASSIGN_OR_RETURN(PeriodKind kind, KindOfLabel(label));
  v1::Period period;
  period.set_kind(static_cast<v1::PeriodKind>(kind));
  period.set_label(label);
  return period;
}

std::string FormatValue(const v1::RollupRecord& r) {
  if (!r.has_value()) return "-";
  if (!r.exact_value().empty()) return r.exact_value();
  return absl::StrFormat("%.6g", r.value());
}

std::string FormatFigure(const v1::RollupRecord& r) {
  std::string line;
  if (!r.has_value()) {
    line = absl::StrCat("= (", r.no_value_reason(), ")");
  } else {
    line = absl::StrCat("= ", FormatValue(r));
    if (r.exact_value().empty() && !r.denominator().empty()) {
      absl::StrAppend(&line, " (", r.numerator(), " / ", r.denominator(), ")");
    }
  }
  if (r.has_target()) {
    absl::StrAppend(&line, absl::StrFormat("  target %.6g", r.target()));
    if (r.has_expected() && r.expected() != r.target()) {
      absl::StrAppend(&line,
                      absl::StrFormat(" (expected %.6g by now)", r.expected()));
    }
    if (r.has_variance()) {
      absl::StrAppend(&line, absl::StrFormat("  variance %+.6g", r.variance()));
      if (r.has_variance_pct()) {
        absl::StrAppend(&line, absl::StrFormat(" (%+.1f%%)", r.variance_pct()));
      }
      absl::StrAppend(&line, " ", StatusWord(r.status()));
      if (r.has_score()) {
        absl::StrAppend(&line, absl::StrFormat(" (score %.1f)", r.score()));
      }
    } else if (r.status() == v1::KPI_STATUS_NO_DATA) {
      absl::StrAppend(&line, " ", StatusWord(r.status()));
    }
  }
  // A status from the worst unit below shows even where the cell has no
  // target of its own, as the scorecard shows it.
  if (const std::string source = StatusSource(r); !source.empty()) {
    if (!r.has_target()) absl::StrAppend(&line, "  ", StatusWord(r.status()));
    absl::StrAppend(&line, " ", source);
  }
  if (r.event_count() > 0) {
    absl::StrAppend(&line, "  ", r.event_count(), " events");
  }
  if (r.has_reported_value()) {
    absl::StrAppend(&line, "  (reported at close: ",
                    r.reported_exact_value().empty()
                        ? absl::StrFormat("%.6g", r.reported_value())
                        : r.reported_exact_value(),
                    ")");
  }
  return line;
}

std::string FormatAlert(const v1::Alert& alert) {
  std::string line = absl::StrFormat(
      "%-8s %-5s %s  actual=%.2f target=%.2f", StateName(alert.state()),
      StatusName(alert.status()), alert.alert_id(), alert.actual(),
      alert.target());
  if (alert.has_expected() && alert.expected() != alert.target()) {
    absl::StrAppend(&line, absl::StrFormat(" expected=%.2f", alert.expected()));
  }
  absl::StrAppend(&line, " (was ", StatusName(alert.previous_status()), ")");
  if (!alert.silence_id().empty()) {
    absl::StrAppend(&line, "  silenced (", alert.silence_id(), ")");
  }
  if (!alert.escalated_to().empty()) {
    absl::StrAppend(&line, "  escalated to ", alert.escalated_to());
  }
  if (alert.has_score()) {
    absl::StrAppend(&line, absl::StrFormat(" score=%.1f", alert.score()));
  }
  if (alert.has_best_score()) {
    absl::StrAppend(&line, absl::StrFormat(" (best %.1f)", alert.best_score()));
  }
  if (alert.has_data_due()) {
    absl::StrAppend(&line, " data due ", FormatUtcMinute(alert.data_due()));
  }
  if (alert.has_projected()) {
    absl::StrAppend(&line, absl::StrFormat(" heading for %.2f (%s)",
                                           alert.projected(),
                                           StatusName(alert.projected_status())));
  }
  if (!alert.corrective_action().empty()) {
    absl::StrAppend(&line, "  action: ", alert.corrective_action());
    if (!alert.corrective_action_owner().empty()) {
      absl::StrAppend(&line, " (", alert.corrective_action_owner(), ")");
    }
    if (alert.has_corrective_action_due()) {
      absl::StrAppend(&line, " due ",
                      FormatUtcMinute(alert.corrective_action_due()));
    }
  }
  return line;
}

std::string FormatUtcMinute(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", FromTimestamp(t),
                          absl::UTCTimeZone());
}

}  // namespace strata::cli
