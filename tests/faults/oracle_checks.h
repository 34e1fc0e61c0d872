#pragma once

// Checks of what a deployment serves against the oracle (workload.h).
// The waiting checks poll until they hold or time out; a cell counting more
// events than were sent fails at once, since waiting cannot mend a double
// count.

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/faults/strata_client.h"
#include "tests/faults/workload.h"

namespace strata::faults {

// How long rollups and alerts may take to reflect what was acknowledged.
constexpr absl::Duration kSettleTimeout = absl::Seconds(15);

// The differences between what the server answers and `expected`; empty
// when every cell is exact. `overcounted` is set when a cell holds more
// events than expected.
std::vector<std::string> Differences(const Workload& w,
                                     const std::vector<ExpectedCell>& expected,
                                     const std::map<int, v1::RollupRecord>& got,
                                     bool* overcounted);

// The first `n` lines, and how many more there are.
std::string FirstLines(const std::vector<std::string>& lines, size_t n = 12);

// Waits until every cell equals the oracle over `events`.
::testing::AssertionResult ExactTotals(StrataClient& client, const Workload& w,
                                       const EventSet& events,
                                       absl::Duration timeout = kSettleTimeout);

// Right after a restart (before anything is resent): every acknowledged
// event is counted and nothing beyond what was sent.
::testing::AssertionResult AcknowledgedAreCounted(StrataClient& client,
                                                  const Workload& w,
                                                  const EventSet& acked,
                                                  const EventSet& sent);

// Waits until the alerts agree with the oracle's final totals: a targeted
// cell whose total is amber or red has exactly one open alert with that
// status and target; a green one has none or one turned green; nothing else
// has alerts.
::testing::AssertionResult AlertsMatch(StrataClient& client, const Workload& w,
                                       const EventSet& events,
                                       absl::Duration timeout = kSettleTimeout);

// "12 alerts: 5 red, 4 amber, 3 green", for a journal: the alert checks are
// not vacuous.
std::string AlertSummary(StrataClient& client);

}  // namespace strata::faults
