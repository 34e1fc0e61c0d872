#include "libs/scorecard/rollup_score.h"

namespace strata {

KpiStatus StatusOfScore(double score) {
  // The thresholds as Score() places them, so that a KPI exactly on its
  // goal scores green here too.
  if (score >= 20.0 / 3) return KpiStatus::kGreen;
  if (score >= 10.0 / 3) return KpiStatus::kAmber;
  return KpiStatus::kRed;
}

RolledUpScore RollUpScores(const std::vector<WeightedScore>& parts) {
  RolledUpScore out;
  double weighted = 0;
  double weights = 0;
  for (const WeightedScore& part : parts) {
    ++out.parts;
    if (!part.score) continue;
    ++out.parts_scored;
    weighted += part.weight * *part.score;
    weights += part.weight;
  }
  if (weights <= 0) return out;
  out.score = weighted / weights;
  out.status = StatusOfScore(*out.score);
  return out;
}

}  // namespace strata
