#include "libs/scorecard/status.h"

#include <algorithm>
#include <cmath>

namespace strata {

namespace {

constexpr double kRedLine = 10.0 / 3;
constexpr double kGoal = 20.0 / 3;

// On the line through (red, kRedLine) and (goal, kGoal), clamped.
double OnTheLine(double actual, double red, double goal, bool higher_is_better) {
  double score;
  if (goal == red) {
    const bool better = higher_is_better ? actual > goal : actual < goal;
    score = actual == goal ? kGoal : better ? 10 : 0;
  } else {
    score = kRedLine + (actual - red) / (goal - red) * (kGoal - kRedLine);
  }
  return std::clamp(score, 0.0, 10.0);
}

// A percentage of `target` as the bands mean it: of its magnitude, so that
// a negative target keeps their sense (90 % of -100 is -110, 10 short of
// it; 110 % of it -90). The same for higher and lower is better.
double PercentOf(double target, double pct) {
  return target >= 0 ? target * pct / 100.0 : target * (2 - pct / 100.0);
}

// The goal (green edge) and the red line (amber edge).
struct Lines {
  double goal;
  double red;
};

Lines LinesFor(const ThresholdBands& bands, double target) {
  return {PercentOf(target, bands.green_pct), PercentOf(target, bands.amber_pct)};
}

}  // namespace

KpiStatus EvaluateStatus(Polarity polarity, const ThresholdBands& bands,
                         double actual, double target) {
  if (polarity == Polarity::kWithinBand) {
    const double deviation = std::fabs(actual - target);
    if (deviation <= std::fabs(target) * bands.green_pct / 100.0) {
      return KpiStatus::kGreen;
    }
    if (deviation <= std::fabs(target) * bands.amber_pct / 100.0) {
      return KpiStatus::kAmber;
    }
    return KpiStatus::kRed;
  }
  const Lines lines = LinesFor(bands, target);
  if (polarity == Polarity::kHigherIsBetter) {
    if (actual >= lines.goal) return KpiStatus::kGreen;
    if (actual >= lines.red) return KpiStatus::kAmber;
    return KpiStatus::kRed;
  }
  if (actual <= lines.goal) return KpiStatus::kGreen;
  if (actual <= lines.red) return KpiStatus::kAmber;
  return KpiStatus::kRed;
}

bool BandsAreValid(Polarity polarity, const ThresholdBands& bands) {
  if (!std::isfinite(bands.green_pct) || !std::isfinite(bands.amber_pct) ||
      bands.green_pct <= 0 || bands.amber_pct <= 0) {
    return false;
  }
  return polarity == Polarity::kHigherIsBetter
             ? bands.amber_pct <= bands.green_pct
             : bands.amber_pct >= bands.green_pct;
}

double Score(Polarity polarity, const ThresholdBands& bands, double actual,
             double target) {
  if (polarity != Polarity::kWithinBand) {
    const Lines lines = LinesFor(bands, target);
    return OnTheLine(actual, lines.red, lines.goal,
                     polarity == Polarity::kHigherIsBetter);
  }
  // 10 at the target, down to the goal at the green edge, then on to the
  // red line at the amber edge and beyond.
  const double deviation = std::fabs(actual - target);
  const double green = std::fabs(target) * bands.green_pct / 100.0;
  const double amber = std::fabs(target) * bands.amber_pct / 100.0;
  if (deviation <= green) {
    return green == 0 ? 10 : 10 - deviation / green * (10 - kGoal);
  }
  if (amber == green) return 0;
  return std::clamp(
      kGoal - (deviation - green) / (amber - green) * (kGoal - kRedLine), 0.0,
      10.0);
}

}  // namespace strata
