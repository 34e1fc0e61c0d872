// The rollup engine alone, without gRPC or a load generator competing for
// the cores: events appended to an embedded log up front, then timed from
// the engine's start until all are committed. Reports events/s.
//
//   build/bench/rollup_engine_bench --benchmark_min_time=1

#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/streams/envelope.h"
#include "libs/streams/topics.h"
#include "services/rollup/rollup_engine.h"

namespace strata::rollup {
namespace {

constexpr int kKpis = 50;

// Sums of sums and stocks (every 5th KPI) over month, quarter and year, as
// before this issue; or `every_kind`: every aggregation (sum, pooled mean,
// stock, maximum, weighted mean, and ratios computed from the sums) over
// all eight period kinds.
void AddKpis(bool every_kind, v1::DefinitionBatch& batch) {
  for (int k = 0; k < kKpis; ++k) {
    v1::Kpi* kpi = batch.add_changes()->mutable_kpi();
    kpi->set_kpi_id(absl::StrCat("kpi-", k));
    kpi->set_name(kpi->kpi_id());
    kpi->set_polarity(v1::POLARITY_HIGHER_IS_BETTER);
    kpi->mutable_thresholds()->set_green_pct(100);
    kpi->mutable_thresholds()->set_amber_pct(90);
    kpi->set_time_aggregation(k % 5 == 4 ? v1::TIME_AGGREGATION_LAST
                                         : v1::TIME_AGGREGATION_SUM);
    kpi->set_hierarchy_aggregation(v1::HIERARCHY_AGGREGATION_SUM);
    if (!every_kind) continue;
    for (int kind = v1::PERIOD_KIND_DAY; kind <= v1::PERIOD_KIND_QUARTER_TO_DATE;
         ++kind) {
      kpi->add_periods(static_cast<v1::PeriodKind>(kind));
    }
    switch (k % 5) {
      case 1:
        kpi->set_time_aggregation(v1::TIME_AGGREGATION_AVG);
        kpi->set_hierarchy_aggregation(v1::HIERARCHY_AGGREGATION_AVG);
        break;
      case 2:
        kpi->set_time_aggregation(v1::TIME_AGGREGATION_LAST);
        break;
      case 3:
        kpi->set_time_aggregation(v1::TIME_AGGREGATION_MAX);
        kpi->set_hierarchy_aggregation(v1::HIERARCHY_AGGREGATION_MAX);
        break;
      case 4:
        kpi->set_hierarchy_aggregation(v1::HIERARCHY_AGGREGATION_WEIGHTED_AVG);
        kpi->set_weight_kpi_id(absl::StrCat("kpi-", k - 2));
        break;
    }
  }
  if (!every_kind) return;
  for (int k = 0; k + 5 < kKpis; k += 10) {
    v1::Kpi* ratio = batch.add_changes()->mutable_kpi();
    ratio->set_kpi_id(absl::StrCat("ratio-", k));
    ratio->set_name(ratio->kpi_id());
    ratio->set_polarity(v1::POLARITY_HIGHER_IS_BETTER);
    ratio->mutable_thresholds()->set_green_pct(100);
    ratio->mutable_thresholds()->set_amber_pct(90);
    ratio->set_hierarchy_aggregation(v1::HIERARCHY_AGGREGATION_RATIO);
    ratio->mutable_formula()->set_op(v1::Formula::OPERATOR_RATIO);
    ratio->mutable_formula()->set_left_kpi_id(absl::StrCat("kpi-", k));
    ratio->mutable_formula()->set_right_kpi_id(absl::StrCat("kpi-", k + 5));
  }
}

// 1 + 10 + 50 + 250 + 1,250 units, five levels, as bench/ingest_load uses.
std::vector<std::string> AppendOrganisation(eventlog::EventLog& log,
                                            bool every_kind) {
  v1::DefinitionBatch batch;
  std::vector<std::string> level = {"root"};
  auto unit = [&](const std::string& id, const std::string& parent) {
    v1::OrgUnit* u = batch.add_changes()->mutable_org_unit();
    u->set_unit_id(id);
    u->set_name(id);
    u->set_parent_id(parent);
  };
  unit("root", "");
  for (int depth = 1; depth < 5; ++depth) {
    std::vector<std::string> next;
    for (const std::string& parent : level) {
      for (int c = 0; c < (depth == 1 ? 10 : 5); ++c) {
        next.push_back(absl::StrCat(parent, ".", c));
        unit(next.back(), parent);
      }
    }
    level = std::move(next);
  }
  AddKpis(every_kind, batch);
  v1::EventEnvelope envelope = NewEnvelope(ThisProducer("bench"));
  *envelope.mutable_definitions() = batch;
  (void)log.Append(kDefinitionsTopic, {{"d", envelope.SerializeAsString()}});
  return level;
}

// `events` over the teams and KPIs, uniformly, times in one 30-day window,
// in envelopes of 250 as ingest writes them.
void AppendEvents(eventlog::EventLog& log,
                  const std::vector<std::string>& teams, int64_t events) {
  std::mt19937_64 rng(7);
  const int64_t start = 1'790'000'000;  // 2026-09-22
  const int32_t partitions = *log.PartitionCount(kKpiEventsTopic);
  std::vector<eventlog::AppendRecord> records;
  for (int64_t i = 0; i < events;) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("bench"));
    for (int b = 0; b < 250 && i < events; ++b, ++i) {
      v1::KpiEvent* e = envelope.mutable_kpi_events()->add_events();
      e->set_event_id(absl::StrCat("e", i));
      e->set_kpi_id(absl::StrCat("kpi-", rng() % kKpis));
      e->set_unit_id(teams[rng() % teams.size()]);
      e->mutable_event_time()->set_seconds(start + rng() % (30 * 86400));
      e->set_value(static_cast<double>(rng() % 10000) / 100);
    }
    records.push_back({envelope.event_id(), envelope.SerializeAsString(),
                       static_cast<int32_t>(records.size() % partitions)});
    if (records.size() == 256) {
      (void)log.Append(kKpiEventsTopic, records);
      records.clear();
    }
  }
  (void)log.Append(kKpiEventsTopic, records);
}

void BM_RollupEngine(benchmark::State& state) {
  const int64_t events = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() /
        absl::StrCat("strata_rollup_bench_", getpid());
    std::filesystem::remove_all(dir);
    eventlog::RocksDbEventLogOptions log_options;
    log_options.path = (dir / "log").string();
    log_options.topics = DefaultTopics();
    auto log = *eventlog::OpenRocksDbEventLog(log_options);
    const std::vector<std::string> teams =
        AppendOrganisation(*log, /*every_kind=*/state.range(1) != 0);
    AppendEvents(*log, teams, events);
    auto definitions = *DefinitionsFollower::Create(*log, "bench");
    auto store = *RollupStore::Open((dir / "rollup").string());
    auto engine = std::make_unique<RollupEngine>(RollupEngineOptions(), *log,
                                                 *definitions, *store);
    definitions->Start();
    (void)definitions->CatchUp(absl::Seconds(30));
    state.ResumeTiming();

    (void)engine->Start();
    while (engine->stats().events_committed < events) {
      absl::SleepFor(absl::Milliseconds(1));
    }

    state.PauseTiming();
    engine.reset();
    store.reset();
    definitions.reset();
    log.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * events);
}
// {events, 0}: as before this issue; {events, 1}: every aggregation and
// period kind.
BENCHMARK(BM_RollupEngine)
    ->Args({1'000'000, 0})
    ->Args({200'000, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace strata::rollup

BENCHMARK_MAIN();
