#pragma once

// KPI events as CSV, the format `strata send` reads:
//
//   event_id,kpi_id,unit_id,event_time,value,source
//   e-1,revenue,retail-sales-t1,2026-11-03T10:00:00Z,1250.50,erp
//
// A first line starting with "event_id" is a header; `source` may be empty.

#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/v1/events.pb.h"

namespace strata::cli {

// INVALID_ARGUMENT naming the line and column of the first malformed row.
absl::StatusOr<std::vector<v1::KpiEvent>> ParseKpiEventsCsv(std::istream& in);

std::string KpiEventCsvHeader();
std::string FormatKpiEventCsv(const v1::KpiEvent& event);

}  // namespace strata::cli
