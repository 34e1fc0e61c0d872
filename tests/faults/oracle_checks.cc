#include "tests/faults/oracle_checks.h"

#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace strata::faults {

// The differences between what the server answers and `expected`; empty
// when every cell is exact. `overcounted` is set when a cell holds more
// events than expected: a double count, which waiting cannot mend.
std::vector<std::string> Differences(const Workload& w,
                                     const std::vector<ExpectedCell>& expected,
                                     const std::map<int, v1::RollupRecord>& got,
                                     bool* overcounted) {
  std::map<int, double> target_of;
  for (const Target& t : w.targets) {
    target_of[CellIndex(t.kpi, t.unit, t.month)] = t.value;
  }
  std::vector<std::string> diffs;
  for (int cell = 0; cell < kCellCount; ++cell) {
    const ExpectedCell& want = expected[cell];
    auto it = got.find(cell);
    if (want.count == 0) {
      if (it != got.end()) {
        diffs.push_back(absl::StrCat(CellName(cell),
                                     ": expected no events, got ",
                                     it->second.ShortDebugString()));
        *overcounted = true;
      }
      continue;
    }
    if (it == got.end()) {
      diffs.push_back(absl::StrCat(CellName(cell), ": expected ", want.count,
                                   " events totalling ",
                                   FormatFixed(want.fixed), ", got none"));
      continue;
    }
    const v1::RollupRecord& r = it->second;
    const std::optional<int64_t> fixed = ParseFixed(r.exact_value());
    const bool target_ok = target_of.count(cell)
                               ? r.has_target() && r.target() == target_of[cell]
                               : !r.has_target();
    if (r.event_count() != want.count || !fixed || *fixed != want.fixed ||
        r.last_event_time().seconds() != want.last_seconds ||
        r.last_event_time().nanos() != want.last_nanos || !target_ok) {
      diffs.push_back(absl::StrCat(
          CellName(cell), ": expected ", want.count, " events totalling ",
          FormatFixed(want.fixed), " (last at ", want.last_seconds, ".",
          want.last_nanos, "), got ", r.event_count(), " totalling ",
          r.exact_value(), " (last at ", r.last_event_time().seconds(), ".",
          r.last_event_time().nanos(), ")",
          target_ok
              ? ""
              : absl::StrCat("; target ", r.has_target() ? r.target() : -1)));
      if (r.event_count() > want.count) *overcounted = true;
    }
  }
  return diffs;
}

std::string FirstLines(const std::vector<std::string>& lines, size_t n) {
  std::vector<std::string> head(lines.begin(),
                                lines.begin() + std::min(n, lines.size()));
  return absl::StrCat(
      absl::StrJoin(head, "\n  "),
      lines.size() > n ? absl::StrCat("\n  ... and ", lines.size() - n, " more")
                       : "");
}

// Waits (bounded) until every cell equals the oracle over `events`. Fails
// at once on a cell counting more events than that: nothing twice.
::testing::AssertionResult ExactTotals(
    StrataClient& client, const Workload& w, const EventSet& events,
    absl::Duration timeout) {
  const std::vector<ExpectedCell> expected = ExpectedCells(w, events);
  const absl::Time deadline = absl::Now() + timeout;
  std::string last;
  while (true) {
    std::map<int, v1::RollupRecord> got;
    grpc::Status status = client.AllCells(got);
    if (status.ok()) {
      bool overcounted = false;
      std::vector<std::string> diffs =
          Differences(w, expected, got, &overcounted);
      if (diffs.empty()) return ::testing::AssertionSuccess();
      last = absl::StrCat(diffs.size(), " cells differ from the oracle:\n  ",
                          FirstLines(diffs));
      if (overcounted) {
        return ::testing::AssertionFailure()
               << "WRONG TOTALS SERVED (more events than were sent): " << last;
      }
    } else {
      last = "rollup query: " + Describe(status);
    }
    if (absl::Now() >= deadline) {
      return ::testing::AssertionFailure()
             << "not exact after " << absl::FormatDuration(timeout) << ": "
             << last;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

// Right after a restart (before anything is resent): every acknowledged
// event is counted and nothing beyond what was sent. `sales` values are
// positive, so their sums are bounded the same way.
::testing::AssertionResult AcknowledgedAreCounted(StrataClient& client,
                                                  const Workload& w,
                                                  const EventSet& acked,
                                                  const EventSet& sent) {
  const std::vector<ExpectedCell> low = ExpectedCells(w, acked);
  const std::vector<ExpectedCell> high = ExpectedCells(w, sent);
  std::map<int, v1::RollupRecord> got;
  grpc::Status status = client.AllCells(got);
  if (!status.ok()) {
    return ::testing::AssertionFailure()
           << "SERVING, but the rollup query answers " << Describe(status);
  }
  std::vector<std::string> diffs;
  for (int cell = 0; cell < kCellCount; ++cell) {
    auto it = got.find(cell);
    const int64_t count = it == got.end() ? 0 : it->second.event_count();
    const int64_t fixed =
        it == got.end() ? 0 : ParseFixed(it->second.exact_value()).value_or(-1);
    const bool sums = cell / (kUnitCount * kPeriodCount) == kSales;
    if (count < low[cell].count || count > high[cell].count ||
        (sums && (fixed < low[cell].fixed || fixed > high[cell].fixed))) {
      diffs.push_back(absl::StrCat(
          CellName(cell), ": ", count, " events totalling ",
          it == got.end() ? "-" : it->second.exact_value(), "; acknowledged ",
          low[cell].count, " (", FormatFixed(low[cell].fixed), "), sent ",
          high[cell].count, " (", FormatFixed(high[cell].fixed), ")"));
    }
  }
  if (diffs.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "WRONG TOTALS SERVED right after restart: " << diffs.size()
         << " cells outside [acknowledged, sent]:\n  " << FirstLines(diffs);
}

// Waits (bounded) until the alerts agree with the oracle's final totals:
// a targeted cell whose total is amber or red has exactly one open alert
// with that status and target; a green one has none or one turned green;
// nothing else has alerts.
::testing::AssertionResult AlertsMatch(
    StrataClient& client, const Workload& w, const EventSet& events,
    absl::Duration timeout) {
  const std::vector<ExpectedCell> cells = ExpectedCells(w, events);
  std::map<std::string, std::pair<int, double>>
      targeted;  // name -> cell, target
  for (const Target& t : w.targets) {
    const int cell = CellIndex(t.kpi, t.unit, t.month);
    targeted[CellName(cell)] = {cell, t.value};
  }
  const absl::Time deadline = absl::Now() + timeout;
  std::string last;
  while (true) {
    v1::ListAlertsResponse response;
    grpc::Status status = client.ListAlerts(response);
    std::vector<std::string> diffs;
    if (status.ok()) {
      std::map<std::string, const v1::Alert*> by_cell;
      for (const v1::Alert& a : response.alerts()) {
        const std::string name =
            absl::StrCat(a.key().kpi_id(), "/", a.key().unit_id(), "/",
                         a.key().period().label());
        auto t = targeted.find(name);
        if (t == targeted.end() || cells[t->second.first].count == 0) {
          diffs.push_back(
              absl::StrCat("unexpected alert ", a.ShortDebugString()));
          continue;
        }
        if (by_cell.count(name) || a.generation() != 1 ||
            a.state() != v1::ALERT_STATE_OPEN ||
            a.target() != t->second.second) {
          diffs.push_back(
              absl::StrCat("alert not as expected (one open alert, "
                           "generation 1, target ",
                           t->second.second, "): ", a.ShortDebugString()));
        }
        by_cell[name] = &a;
      }
      for (const auto& [name, cell_target] : targeted) {
        const ExpectedCell& c = cells[cell_target.first];
        if (c.count == 0) continue;
        const std::optional<v1::KpiStatus> want =
            ExpectedStatus(c.fixed, cell_target.second);
        if (!want) continue;  // Within rounding of a band's edge.
        auto it = by_cell.find(name);
        const bool warning = *want != v1::KPI_STATUS_GREEN;
        if (warning && it == by_cell.end()) {
          diffs.push_back(absl::StrCat(name, ": total ", FormatFixed(c.fixed),
                                       " against ", cell_target.second, " is ",
                                       v1::KpiStatus_Name(*want),
                                       ", but there is no alert"));
        } else if (it != by_cell.end() && it->second->status() != *want) {
          diffs.push_back(absl::StrCat(
              name, ": total ", FormatFixed(c.fixed), " against ",
              cell_target.second, " is ", v1::KpiStatus_Name(*want),
              ", alert says ", it->second->ShortDebugString()));
        }
      }
      if (diffs.empty()) return ::testing::AssertionSuccess();
      last =
          absl::StrCat(diffs.size(), " alerts differ:\n  ", FirstLines(diffs));
    } else {
      last = "alerts query: " + Describe(status);
    }
    if (absl::Now() >= deadline) {
      return ::testing::AssertionFailure()
             << "alerts not consistent with the totals after "
             << absl::FormatDuration(timeout) << ": " << last;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

// "12 alerts: 5 red, 4 amber, 3 green", for the journal: the alert checks
// are not vacuous.
std::string AlertSummary(StrataClient& client) {
  v1::ListAlertsResponse response;
  grpc::Status status = client.ListAlerts(response);
  if (!status.ok()) return "alerts query: " + Describe(status);
  std::map<int, int> by_status;
  for (const v1::Alert& a : response.alerts()) ++by_status[a.status()];
  return absl::StrCat(response.alerts_size(),
                      " alerts: ", by_status[v1::KPI_STATUS_RED], " red, ",
                      by_status[v1::KPI_STATUS_AMBER], " amber, ",
                      by_status[v1::KPI_STATUS_GREEN], " green");
}

}  // namespace strata::faults
