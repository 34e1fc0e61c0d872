#pragma once

// How a Strata alert is shown to a Prometheus Alertmanager (API v2).
//
// Labels identify it there and are what its routes match: alertname
// ("Strata" and the rule, e.g. "StrataStatusChange"), rule, kpi, unit,
// period, severity ("critical" while red, else "warning"), owner (the
// unit's, else the KPI's) and alert_id (a later occurrence after a
// resolution is another alert there too). Labels never change during an
// alert's life, so Alertmanager sees one alert; what moves (actual, target,
// variance, state, corrective action, escalation) is in annotations.

#include <string>

#include "absl/time/time.h"
#include "libs/definitions/definitions.h"
#include "services/alerts/alertmanager_api.pb.h"
#include "strata/v1/alert.pb.h"

namespace strata::alerts {

// `alert` as of `now` (the wall clock: Alertmanager's timing is real
// time): firing until `now + firing_for` unless sent again, or resolved
// (endsAt at its resolution, never later than now) once RESOLVED.
alertmanager::PostableAlert ToPostableAlert(const v1::Alert& alert,
                                            const Definitions& definitions,
                                            absl::Time now,
                                            absl::Duration firing_for);

// An RFC 3339 time in UTC, as Alertmanager writes and reads them.
std::string Rfc3339(absl::Time time);

}  // namespace strata::alerts
