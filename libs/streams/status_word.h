#pragma once

// A status as people read it, in tables, messages and notifications.

#include <string>

#include "strata/v1/kpi_status.pb.h"

namespace strata {

// "green", "amber", "red", "no data"; "" when unspecified (no target).
std::string StatusWord(v1::KpiStatus status);

}  // namespace strata
