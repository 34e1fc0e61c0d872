#pragma once

// A Balanced Scorecard as `strata scorecard` prints it: the unit's score,
// then each perspective, its objectives and their KPIs as rows of a table
// (actual, expected by now, target, variance, status, score, trend), open
// alerts under the KPI they are on.

#include <string>

#include "strata/v1/scorecard_service.pb.h"

namespace strata::cli {

std::string FormatScorecard(const v1::Scorecard& card);

}  // namespace strata::cli
