#include "services/strata/scorecard_table.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "services/strata/figure_format.h"
#include "strata/v1/definitions.pb.h"

namespace strata::cli {
namespace {

constexpr char kRowFormat[] = "    %-22s %12s %12s %12s %10s %-8s %6s  %s";

// One row of the KPI table, without trailing blanks.
template <typename... Cells>
void AppendRow(std::string& out, const Cells&... cells) {
  std::string row = absl::StrFormat(kRowFormat, cells...);
  absl::StripTrailingAsciiWhitespace(&row);
  absl::StrAppend(&out, row, "\n");
}

std::string PerspectiveTitle(v1::Perspective perspective) {
  switch (perspective) {
    case v1::PERSPECTIVE_FINANCIAL:
      return "Financial";
    case v1::PERSPECTIVE_CUSTOMER:
      return "Customer";
    case v1::PERSPECTIVE_INTERNAL_PROCESS:
      return "Internal process";
    case v1::PERSPECTIVE_LEARNING_GROWTH:
      return "Learning & growth";
    default:
      return "Other";
  }
}

// "6.2 amber (2 of 3 scored)"; "no score (0 of 2 scored)": none had a
// target and a value.
std::string Summary(const v1::ScoreSummary& summary) {
  std::string text = summary.has_score()
                         ? absl::StrFormat("%.1f %s", summary.score(),
                                           StatusWord(summary.status()))
                         : "no score";
  if (summary.parts_scored() < summary.parts()) {
    absl::StrAppend(&text, " (", summary.parts_scored(), " of ",
                    summary.parts(), " scored)");
  }
  return text;
}

std::string Number(bool has, double value) {
  return has ? absl::StrFormat("%.6g", value) : "-";
}

std::string Variance(const v1::RollupRecord& figure) {
  if (figure.has_variance_pct()) {
    return absl::StrFormat("%+.1f%%", figure.variance_pct());
  }
  return figure.has_variance() ? absl::StrFormat("%+.6g", figure.variance())
                               : "-";
}

std::string TrendText(const v1::Trend& trend) {
  std::string was;
  if (trend.has_previous_score()) {
    was = absl::StrFormat(" (%s: %.1f)", trend.previous().label(),
                          trend.previous_score());
  }
  switch (trend.direction()) {
    case v1::Trend::DIRECTION_IMPROVING:
      return "better" + was;
    case v1::Trend::DIRECTION_WORSENING:
      return "worse" + was;
    case v1::Trend::DIRECTION_STEADY:
      return "steady" + was;
    default:
      return "";
  }
}

void AppendMeasure(const v1::ScorecardMeasure& measure, std::string& out) {
  const v1::RollupRecord& f = measure.figure();
  AppendRow(
      out, measure.kpi_id(), FormatValue(f),
      Number(f.has_expected(), f.expected()), Number(f.has_target(), f.target()),
      Variance(f), StatusWord(f.status()),
      f.has_score() ? absl::StrFormat("%.1f", f.score()) : "-",
      TrendText(measure.trend()));
  if (!f.has_value() && !f.no_value_reason().empty() &&
      f.no_value_reason() != "no events") {
    absl::StrAppend(&out, "      (", f.no_value_reason(), ")\n");
  }
  if (const std::string source = StatusSource(f); !source.empty()) {
    absl::StrAppend(&out, "      (", StatusWord(f.status()), " ", source,
                    ", its worst unit below)\n");
  }
  for (const v1::Alert& alert : measure.open_alerts()) {
    absl::StrAppend(&out, "      alert ", FormatAlert(alert), "\n");
  }
}

void AppendHeader(std::string& out) {
  AppendRow(out, "KPI", "ACTUAL", "EXPECTED", "TARGET", "VARIANCE", "STATUS",
            "SCORE", "TREND");
}

}  // namespace

std::string FormatScorecard(const v1::Scorecard& card) {
  std::string out = absl::StrCat(
      "Scorecard of ", card.unit_id(), " for ", card.period().label(),
      ", judged at ",
      absl::FormatTime("%Y-%m-%d %H:%M UTC",
                       absl::FromUnixSeconds(card.judged_at().seconds()),
                       absl::UTCTimeZone()),
      "\n", "Overall: ", Summary(card.summary()), "\n");
  if (!card.alerts_unavailable().empty()) {
    absl::StrAppend(&out, "Open alerts unknown: ", card.alerts_unavailable(),
                    "\n");
  }
  for (const v1::ScorecardPerspective& perspective : card.perspectives()) {
    absl::StrAppend(&out, "\n", PerspectiveTitle(perspective.perspective()),
                    ": ", Summary(perspective.summary()), "\n");
    for (const v1::ScorecardObjective& objective : perspective.objectives()) {
      absl::StrAppend(&out, "  ", objective.name(), " [", objective.objective_id(),
                      "]: ", Summary(objective.summary()));
      if (!objective.owner().empty()) {
        absl::StrAppend(&out, "  owner ", objective.owner());
      }
      if (!objective.drives().empty()) {
        absl::StrAppend(&out, "  drives ",
                        absl::StrJoin(objective.drives(), ", "));
      }
      absl::StrAppend(&out, "\n");
      AppendHeader(out);
      for (const v1::ScorecardMeasure& measure : objective.measures()) {
        AppendMeasure(measure, out);
      }
    }
  }
  if (!card.unlinked().empty()) {
    absl::StrAppend(&out, "\nKPIs no objective measures:\n");
    AppendHeader(out);
    for (const v1::ScorecardMeasure& measure : card.unlinked()) {
      AppendMeasure(measure, out);
    }
  }
  return out;
}

}  // namespace strata::cli
