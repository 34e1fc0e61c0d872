#pragma once

// How the client prints statuses, figures and alerts: shared by its
// commands so that a figure reads the same in every table.

#include <string>

#include "absl/status/statusor.h"
#include "libs/streams/status_word.h"
#include "strata/v1/alert.pb.h"
#include "strata/v1/kpi_status.pb.h"
#include "strata/v1/period.pb.h"
#include "strata/v1/rollup.pb.h"

namespace strata::cli {

// For a status taken from a unit below (Kpi.status_rule WORST_CHILD):
// "from east-2"; "" for the cell's own.
std::string StatusSource(const v1::RollupRecord& record);

// The period a label names ("2026-03", "2026-Q1"): its kind from its shape.
absl::StatusOr<v1::Period> PeriodOfLabel(const std::string& label);

// The value as the rollup holds it: exact where it is exact ("1234.5"),
// else 6 significant digits; "-" when there is none.
std::string FormatValue(const v1::RollupRecord& record);

// "= 1234.5  target 1300 (expected 866.7 by now)  variance -65.5 (-5.0%)
// amber (score 5.2)  12 events".
std::string FormatFigure(const v1::RollupRecord& record);

// "OPEN     RED   sales/team/2026-03#1  actual=... (was AMBER)  action: ...".
std::string FormatAlert(const v1::Alert& alert);

// "2026-12-20 17:00 UTC".
std::string FormatUtcMinute(const google::protobuf::Timestamp& t);

}  // namespace strata::cli
