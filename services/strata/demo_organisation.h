#pragma once

// The demo organisation `strata serve --demo` loads: Acme Group, three
// business units, six departments, twelve teams, and a Balanced Scorecard
// of twelve KPIs with monthly targets for the month of `now`. Its events
// (`strata demo-events`) leave most teams green and a few red, so alerts fire.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "strata/v1/definitions.pb.h"
#include "strata/v1/events.pb.h"

namespace strata::cli {

inline constexpr char kDemoRootUnit[] = "acme";

v1::DefinitionBatch DemoDefinitions(absl::Time now);

// `per_team_and_kpi` events for every team and KPI, spread over the month of
// `now` up to `now`. Ids are deterministic: sending twice counts once.
std::vector<v1::KpiEvent> DemoEvents(absl::Time now, int per_team_and_kpi);

}  // namespace strata::cli
