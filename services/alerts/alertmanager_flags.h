#pragma once

// --alertmanager_url and --alertmanager_resend_interval, for the binaries
// that run the alerts service (strata-alerts, strata serve).

#include "services/alerts/alertmanager_pusher.h"

namespace strata::alerts {

AlertmanagerOptions AlertmanagerOptionsFromFlags();

}  // namespace strata::alerts
