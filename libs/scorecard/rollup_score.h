#pragma once

// Scores rolled up the scorecard: a KPI's 0-10 score (status.h) into its
// objective's, an objective's into its perspective's, each the weighted
// mean of the parts that have a score. Parts without data are left out and
// counted, so that a scorecard can say "2 of 3 measured" rather than look
// better than it is; with none, the whole is NO_DATA.
//
//   RolledUpScore objective = RollUpScores({{2, 7.5}, {1, std::nullopt}});
//   objective.score;   // 7.5
//   objective.status;  // kGreen
//   objective.parts_scored;  // 1 of objective.parts

#include <optional>
#include <vector>

#include "libs/scorecard/status.h"

namespace strata {

struct WeightedScore {
  double weight = 1;            // > 0
  std::optional<double> score;  // 0-10; none: no data.
};

struct RolledUpScore {
  std::optional<double> score;
  KpiStatus status = KpiStatus::kNoData;
  int parts = 0;
  int parts_scored = 0;
};

RolledUpScore RollUpScores(const std::vector<WeightedScore>& parts);

// The status a 0-10 score stands for: green from the goal (6.67), amber
// from the red line (3.33), red below.
KpiStatus StatusOfScore(double score);

}  // namespace strata
