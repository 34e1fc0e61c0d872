#include "services/strata/demo_organisation.h"

#include "libs/period/calendar.h"

#include <array>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "libs/period/period.h"

namespace strata::cli {
namespace {

struct DemoKpi {
  const char* id;
  const char* name;
  const char* unit_of_measure;
  v1::Perspective perspective;
  v1::Polarity polarity;
  v1::TimeAggregation time_aggregation;
  double amber_pct;          // Green is always at 100 % of target.
  double team_month_target;  // Parents' targets add up their teams'.
};

constexpr auto kHigher = v1::POLARITY_HIGHER_IS_BETTER;
constexpr auto kLower = v1::POLARITY_LOWER_IS_BETTER;
constexpr auto kSum = v1::TIME_AGGREGATION_SUM;
constexpr auto kLast = v1::TIME_AGGREGATION_LAST;

const std::array<DemoKpi, 12> kKpis = {{
    {"revenue", "Revenue", "USD", v1::PERSPECTIVE_FINANCIAL, kHigher, kSum, 90,
     100000},
    {"operating_cost", "Operating cost", "USD", v1::PERSPECTIVE_FINANCIAL,
     kLower, kSum, 110, 60000},
    {"gross_profit", "Gross profit", "USD", v1::PERSPECTIVE_FINANCIAL, kHigher,
     kSum, 90, 40000},
    {"new_customers", "New customers", "count", v1::PERSPECTIVE_CUSTOMER,
     kHigher, kSum, 85, 50},
    {"complaints", "Customer complaints", "count", v1::PERSPECTIVE_CUSTOMER,
     kLower, kSum, 120, 10},
    {"active_customers", "Active customers", "count", v1::PERSPECTIVE_CUSTOMER,
     kHigher, kLast, 95, 1000},
    {"orders_fulfilled", "Orders fulfilled", "count",
     v1::PERSPECTIVE_INTERNAL_PROCESS, kHigher, kSum, 90, 400},
    {"incidents", "Operational incidents", "count",
     v1::PERSPECTIVE_INTERNAL_PROCESS, kLower, kSum, 125, 5},
    {"backlog", "Open backlog items", "count", v1::PERSPECTIVE_INTERNAL_PROCESS,
     kLower, kLast, 115, 40},
    {"training_hours", "Training hours", "hours",
     v1::PERSPECTIVE_LEARNING_GROWTH, kHigher, kSum, 80, 80},
    {"headcount", "Headcount", "FTE", v1::PERSPECTIVE_LEARNING_GROWTH, kHigher,
     kLast, 95, 12},
    {"certifications", "Certifications earned", "count",
     v1::PERSPECTIVE_LEARNING_GROWTH, kHigher, kSum, 75, 4},
}};

struct DemoObjective {
  const char* id;
  const char* name;
  v1::Perspective perspective;
  const char* owner;
  std::vector<std::pair<const char*, double>> measures;  // KPI, weight.
  std::vector<const char*> drives;  // Defined before this one.
};

// The strategy map, effects first: capability drives delivery, delivery
// delights customers, customers grow revenue.
const std::vector<DemoObjective>& Objectives() {
  static const auto* objectives = new std::vector<DemoObjective>{
      {"grow_revenue", "Grow profitable revenue", v1::PERSPECTIVE_FINANCIAL,
       "cfo", {{"revenue", 2}, {"gross_profit", 1}}, {}},
      {"control_cost", "Keep costs in check", v1::PERSPECTIVE_FINANCIAL, "cfo",
       {{"operating_cost", 1}}, {}},
      {"win_customers", "Win and keep customers", v1::PERSPECTIVE_CUSTOMER,
       "cco", {{"new_customers", 1}, {"active_customers", 1}},
       {"grow_revenue"}},
      {"delight_customers", "Delight customers", v1::PERSPECTIVE_CUSTOMER,
       "cco", {{"complaints", 1}}, {"grow_revenue"}},
      {"deliver_reliably", "Deliver reliably",
       v1::PERSPECTIVE_INTERNAL_PROCESS, "coo",
       {{"orders_fulfilled", 2}, {"incidents", 1}, {"backlog", 1}},
       {"delight_customers", "win_customers"}},
      {"build_capability", "Build capability", v1::PERSPECTIVE_LEARNING_GROWTH,
       "chro",
       {{"training_hours", 1}, {"certifications", 1}, {"headcount", 1}},
       {"deliver_reliably"}},
  };
  return *objectives;
}

const std::array<const char*, 3> kBusinessUnits = {"retail", "industrial",
                                                   "digital"};
const std::array<const char*, 2> kDepartments = {"sales", "ops"};
constexpr int kTeamsPerDepartment = 2;

std::string TeamId(const char* bu, const char* dept, int team) {
  return absl::StrCat(bu, "-", dept, "-t", team);
}

// How a team performs against target on a KPI: mostly on track, with a few
// teams well off so that alerts have something to say.
double Performance(const std::string& team, const DemoKpi& kpi) {
  const std::string id = kpi.id;
  if (team == "retail-sales-t2" && id == "revenue") return 0.70;
  if (team == "digital-ops-t1" && id == "incidents") return 1.60;
  if (team == "industrial-ops-t2" && id == "backlog") return 1.08;
  return kpi.polarity == kHigher ? 1.05 : 0.90;
}

// The KPI whose feed must deliver each day's figures by 06:00 the next
// day, and the team whose feed stopped three days ago.
constexpr char kDailyFedKpi[] = "new_customers";
constexpr char kSilentTeam[] = "digital-sales-t2";

// The rules beyond status changes, so that a fresh demo shows each: revenue
// alerts escalate after a minute unacknowledged and are projected from the
// pace of the last two days or more (from the month's third day on); one team's new customers come from a daily feed, checked from
// the month's start.
void AddAlertingOf(const std::string& id, absl::Time now, v1::Kpi& kpi) {
  if (id == "revenue") {
    v1::AlertPolicy& policy = *kpi.mutable_alert_policy();
    policy.mutable_escalate_after()->set_seconds(60);
    policy.mutable_projection_window()->set_seconds(2 * 86400);
  }
  if (id == kDailyFedKpi) {
    for (v1::PeriodKind kind : {v1::PERIOD_KIND_DAY, v1::PERIOD_KIND_MONTH,
                                v1::PERIOD_KIND_QUARTER, v1::PERIOD_KIND_YEAR}) {
      kpi.add_periods(kind);
    }
    v1::FeedSchedule& feed = *kpi.mutable_feed();
    feed.set_cadence(v1::PERIOD_KIND_DAY);
    feed.mutable_due_after()->set_seconds(6 * 3600);
    // The one team's feed on a schedule: the demo's history is sent after
    // the server starts, so every other team's days would be late too.
    feed.add_unit_ids(kSilentTeam);
    const absl::Time month_start = absl::FromCivil(
        absl::ToCivilMonth(now, absl::UTCTimeZone()), absl::UTCTimeZone());
    feed.mutable_since()->set_seconds(absl::ToUnixSeconds(month_start));
  }
}

void AddUnit(v1::DefinitionBatch& batch, const std::string& id,
             const std::string& name, const std::string& parent) {
  v1::OrgUnit* unit = batch.add_changes()->mutable_org_unit();
  unit->set_unit_id(id);
  unit->set_name(name);
  unit->set_parent_id(parent);
  unit->set_owner(absl::StrCat("owner-of-", id));
}

// One event a day at noon, up to now, adding up to `total`; none for the
// last three days from the silent team.
void AddDailyEvents(const std::string& team, const DemoKpi& k, double total,
                    absl::Time start, absl::Time now,
                    const std::string& month_label,
                    std::vector<v1::KpiEvent>& events) {
  std::vector<absl::Time> days;
  for (absl::Time noon = start + absl::Hours(12); noon < now;
       noon += absl::Hours(24)) {
    days.push_back(noon);
  }
  for (size_t d = 0; d < days.size(); ++d) {
    if (team == kSilentTeam && days[d] >= now - absl::Hours(72)) break;
    v1::KpiEvent event;
    event.set_event_id(
        absl::StrCat("demo-", month_label, "-", team, "-", k.id, "-day", d));
    event.set_kpi_id(k.id);
    event.set_unit_id(team);
    *event.mutable_event_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
            absl::ToUnixMicros(days[d]));
    event.set_value(total / static_cast<double>(days.size()));
    event.set_source("demo-daily-feed");
    events.push_back(std::move(event));
  }
}

}  // namespace

v1::DefinitionBatch DemoDefinitions(absl::Time now) {
  v1::DefinitionBatch batch;
  // Every unit with the number of teams in its subtree, for targets.
  std::vector<std::pair<std::string, int>> units;
  AddUnit(batch, kDemoRootUnit, "Acme Group", "");
  units.emplace_back(kDemoRootUnit, 12);
  for (const char* bu : kBusinessUnits) {
    AddUnit(batch, bu, absl::StrCat("Business unit ", bu), kDemoRootUnit);
    units.emplace_back(bu, 4);
    for (const char* dept : kDepartments) {
      const std::string dept_id = absl::StrCat(bu, "-", dept);
      AddUnit(batch, dept_id, absl::StrCat(bu, " ", dept), bu);
      units.emplace_back(dept_id, 2);
      for (int t = 1; t <= kTeamsPerDepartment; ++t) {
        AddUnit(batch, TeamId(bu, dept, t),
                absl::StrCat(bu, " ", dept, " team ", t), dept_id);
        units.emplace_back(TeamId(bu, dept, t), 1);
      }
    }
  }
  for (const DemoKpi& k : kKpis) {
    v1::Kpi* kpi = batch.add_changes()->mutable_kpi();
    kpi->set_kpi_id(k.id);
    kpi->set_name(k.name);
    kpi->set_unit_of_measure(k.unit_of_measure);
    kpi->set_owner("strategy-office");
    kpi->set_perspective(k.perspective);
    kpi->set_polarity(k.polarity);
    kpi->set_time_aggregation(k.time_aggregation);
    kpi->set_hierarchy_aggregation(v1::HIERARCHY_AGGREGATION_SUM);
    kpi->mutable_thresholds()->set_green_pct(100);
    kpi->mutable_thresholds()->set_amber_pct(k.amber_pct);
    AddAlertingOf(k.id, now, *kpi);
  }
  for (const DemoObjective& o : Objectives()) {
    v1::Objective* objective = batch.add_changes()->mutable_objective();
    objective->set_objective_id(o.id);
    objective->set_name(o.name);
    objective->set_perspective(o.perspective);
    objective->set_owner(o.owner);
    objective->set_weight(1);
    for (const auto& [kpi, weight] : o.measures) {
      v1::Objective::Measure* measure = objective->add_measures();
      measure->set_kpi_id(kpi);
      measure->set_weight(weight);
    }
    for (const char* effect : o.drives) objective->add_drives(effect);
  }
  const std::string month =
      PeriodLabel(Calendar().Containing(PeriodKind::kMonth, now));
  for (const DemoKpi& k : kKpis) {
    for (const auto& [unit, teams] : units) {
      v1::Target* target = batch.add_changes()->mutable_target();
      target->set_kpi_id(k.id);
      target->set_unit_id(unit);
      target->mutable_period()->set_kind(v1::PERIOD_KIND_MONTH);
      target->mutable_period()->set_label(month);
      target->set_value(k.team_month_target * teams);
    }
  }
  return batch;
}

std::vector<v1::KpiEvent> DemoEvents(absl::Time now, int per_team_and_kpi) {
  const absl::CivilMonth month = absl::ToCivilMonth(now, absl::UTCTimeZone());
  const absl::Time start = absl::FromCivil(month, absl::UTCTimeZone());
  const absl::Duration span = now - start;
  // Flows deliver what their target expects by now (linear), times the
  // team's performance; stocks report their level.
  const double elapsed =
      absl::FDivDuration(span, absl::FromCivil(month + 1, absl::UTCTimeZone()) -
                                   start);
  const std::string month_label =
      PeriodLabel(Calendar().Containing(PeriodKind::kMonth, now));
  std::vector<v1::KpiEvent> events;
  for (const char* bu : kBusinessUnits) {
    for (const char* dept : kDepartments) {
      for (int t = 1; t <= kTeamsPerDepartment; ++t) {
        const std::string team = TeamId(bu, dept, t);
        for (const DemoKpi& k : kKpis) {
          const double total = k.team_month_target * Performance(team, k) *
                               (k.time_aggregation == kSum ? elapsed : 1.0);
          if (k.id == std::string(kDailyFedKpi)) {
            AddDailyEvents(team, k, total, start, now, month_label, events);
            continue;
          }
          for (int i = 0; i < per_team_and_kpi; ++i) {
            v1::KpiEvent event;
            event.set_event_id(absl::StrCat("demo-", month_label, "-", team,
                                            "-", k.id, "-", i));
            event.set_kpi_id(k.id);
            event.set_unit_id(team);
            const absl::Time at =
                start + span * (i + 1) / (per_team_and_kpi + 1);
            *event.mutable_event_time() =
                google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
                    absl::ToUnixMicros(at));
            // Flows split the month's total; stocks report it each time.
            event.set_value(
                k.time_aggregation == kSum ? total / per_team_and_kpi : total);
            event.set_source("demo-feed");
            events.push_back(std::move(event));
          }
        }
      }
    }
  }
  return events;
}

}  // namespace strata::cli
