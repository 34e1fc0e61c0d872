#include "services/rollup/scorecard_builder.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "libs/scorecard/rollup_score.h"
#include "libs/status/status_macros.h"
#include "libs/streams/period_proto.h"
#include "libs/streams/timestamps.h"
#include "services/rollup/rollup_record.h"

namespace strata::rollup {
namespace {

std::optional<double> ScoreOf(const v1::RollupRecord& record) {
  if (!record.has_score()) return std::nullopt;
  return record.score();
}

void SetSummary(const RolledUpScore& rolled, v1::ScoreSummary& summary) {
  if (rolled.score) summary.set_score(*rolled.score);
  summary.set_status(static_cast<v1::KpiStatus>(rolled.status));
  summary.set_parts(rolled.parts);
  summary.set_parts_scored(rolled.parts_scored);
}

std::optional<double> SummaryScore(const v1::ScoreSummary& summary) {
  if (!summary.has_score()) return std::nullopt;
  return summary.score();
}

v1::Trend::Direction DirectionOf(std::optional<double> now,
                                 std::optional<double> before) {
  if (!now || !before) return v1::Trend::DIRECTION_UNSPECIFIED;
  // Scores are rounded for display at two decimals: what rounds alike is
  // steady.
  constexpr double kSteady = 0.005;
  if (*now > *before + kSteady) return v1::Trend::DIRECTION_IMPROVING;
  if (*now < *before - kSteady) return v1::Trend::DIRECTION_WORSENING;
  return v1::Trend::DIRECTION_STEADY;
}

class Builder {
 public:
  Builder(const Definitions& defs, UnitIndex unit, const Period& period,
          absl::Time judged_at, const FigureReader& read,
          const absl::StatusOr<std::vector<v1::Alert>>& open_alerts)
      : defs_(defs),
        unit_(unit),
        period_(period),
        judged_at_(judged_at),
        read_(read) {
    if (!open_alerts.ok()) return;
    const std::string& unit_id = defs.unit(unit).definition.unit_id();
    const v1::Period wanted = PeriodToProto(period);
    for (const v1::Alert& alert : *open_alerts) {
      const v1::RollupKey& key = alert.key();
      if (key.unit_id() != unit_id || key.period().kind() != wanted.kind() ||
          key.period().label() != wanted.label() ||
          alert.state() == v1::ALERT_STATE_RESOLVED) {
        continue;
      }
      alerts_by_kpi_[key.kpi_id()].push_back(&alert);
    }
  }

  // The measure of `kpi`, its figure, trend and open alerts.
  absl::Status FillMeasure(KpiIndex kpi, double weight,
                           v1::ScorecardMeasure& measure) {
    const KpiInfo& info = defs_.kpi(kpi);
    measured_.insert(kpi);
    measure.set_kpi_id(info.definition.kpi_id());
    measure.set_name(info.definition.name());
    measure.set_unit_of_measure(info.definition.unit_of_measure());
    measure.set_owner(info.definition.owner());
    measure.set_weight(weight);
    const CellId id{kpi, unit_, period_};
    if (!info.periods.Contains(period_.kind)) {
      v1::RollupRecord& figure = *measure.mutable_figure();
      figure = MakeEmptyRecord(defs_, id, judged_at_);
      figure.clear_target();
      figure.clear_expected();
      figure.set_no_value_reason(absl::StrCat(
          "the KPI keeps no ", PeriodKindName(period_.kind), " rollups"));
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(*measure.mutable_figure(), read_(id));
    v1::Trend& trend = *measure.mutable_trend();
    if (period_.index > 0) {
      Period previous = period_;
      --previous.index;
      ASSIGN_OR_RETURN(v1::RollupRecord before, read_({kpi, unit_, previous}));
      *trend.mutable_previous() = before.key().period();
      if (before.has_value()) trend.set_previous_value(before.value());
      if (before.has_score()) trend.set_previous_score(before.score());
      trend.set_direction(
          DirectionOf(ScoreOf(measure.figure()), ScoreOf(before)));
    }
    if (auto it = alerts_by_kpi_.find(info.definition.kpi_id());
        it != alerts_by_kpi_.end()) {
      for (const v1::Alert* alert : it->second) {
        *measure.add_open_alerts() = *alert;
      }
    }
    return absl::OkStatus();
  }

  absl::Status FillObjective(const v1::Objective& objective,
                             v1::ScorecardObjective& out) {
    out.set_objective_id(objective.objective_id());
    out.set_name(objective.name());
    out.set_owner(objective.owner());
    out.set_weight(objective.weight());
    *out.mutable_drives() = objective.drives();
    std::vector<WeightedScore> scores;
    for (const v1::Objective::Measure& m : objective.measures()) {
      // Definitions refuse objectives measured by unknown KPIs.
      const std::optional<KpiIndex> kpi = defs_.FindKpi(m.kpi_id());
      if (!kpi) continue;
      v1::ScorecardMeasure& measure = *out.add_measures();
      RETURN_IF_ERROR(FillMeasure(*kpi, m.weight(), measure));
      scores.push_back({m.weight(), ScoreOf(measure.figure())});
    }
    SetSummary(RollUpScores(scores), *out.mutable_summary());
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Scorecard> Build() {
    v1::Scorecard card;
    card.set_unit_id(defs_.unit(unit_).definition.unit_id());
    *card.mutable_period() = PeriodToProto(period_);
    *card.mutable_judged_at() = ToTimestamp(judged_at_);
    std::vector<WeightedScore> perspective_scores;
    for (int p = v1::Perspective_MIN; p <= v1::Perspective_MAX; ++p) {
      v1::ScorecardPerspective perspective;
      perspective.set_perspective(static_cast<v1::Perspective>(p));
      std::vector<WeightedScore> objective_scores;
      for (const v1::Objective& objective : defs_.objectives()) {
        if (objective.perspective() != p) continue;
        v1::ScorecardObjective& out = *perspective.add_objectives();
        RETURN_IF_ERROR(FillObjective(objective, out));
        objective_scores.push_back(
            {objective.weight(), SummaryScore(out.summary())});
      }
      if (perspective.objectives().empty()) continue;
      SetSummary(RollUpScores(objective_scores),
                 *perspective.mutable_summary());
      perspective_scores.push_back({1, SummaryScore(perspective.summary())});
      *card.add_perspectives() = std::move(perspective);
    }
    SetSummary(RollUpScores(perspective_scores), *card.mutable_summary());
    for (KpiIndex kpi = 0; kpi < defs_.kpi_count(); ++kpi) {
      if (measured_.contains(kpi)) continue;
      if (!defs_.kpi(kpi).periods.Contains(period_.kind)) continue;
      RETURN_IF_ERROR(FillMeasure(kpi, 0, *card.add_unlinked()));
    }
    return card;
  }

 private:
  const Definitions& defs_;
  const UnitIndex unit_;
  const Period period_;
  const absl::Time judged_at_;
  const FigureReader& read_;
  absl::flat_hash_map<std::string, std::vector<const v1::Alert*>>
      alerts_by_kpi_;
  absl::flat_hash_set<KpiIndex> measured_;
};

}  // namespace

absl::StatusOr<v1::Scorecard> BuildScorecard(
    const Definitions& defs, UnitIndex unit, const Period& period,
    absl::Time judged_at, const FigureReader& read,
    const absl::StatusOr<std::vector<v1::Alert>>& open_alerts) {
  ASSIGN_OR_RETURN(
      v1::Scorecard card,
      Builder(defs, unit, period, judged_at, read, open_alerts).Build());
  if (!open_alerts.ok()) {
    card.set_alerts_unavailable(std::string(open_alerts.status().message()));
  }
  return card;
}

}  // namespace strata::rollup
