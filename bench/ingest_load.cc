// Load generator: drives a running Strata server through IngestStream with a
// realistic organisation, and reports
//   - events/s accepted (acknowledged by ingest),
//   - events/s rolled up (visible in queries at the enterprise root),
//   - the delay from sending an event to its rollup being visible
//     (median, p99), sampled every 10 ms.
//
//   strata serve --data_dir=/tmp/bench &      # or bench/run_ingest_load.sh
//   ingest_load --server=127.0.0.1:7400 --events=2000000

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "strata/v1/admin_service.grpc.pb.h"
#include "strata/v1/ingest_service.grpc.pb.h"
#include "strata/v1/query_service.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:7400", "Strata server address.");
ABSL_FLAG(int64_t, events, 1'000'000, "Events to send in all.");
ABSL_FLAG(int, batch, 2000, "Events per stream message.");
ABSL_FLAG(int, streams, 2, "Concurrent IngestStream calls.");
ABSL_FLAG(int, fanout, 10, "Children per unit above the teams.");
ABSL_FLAG(int, depth, 5, "Levels of the organisation, enterprise included.");
ABSL_FLAG(int, kpis, 50, "KPIs (one in five keeps the last value).");
ABSL_FLAG(std::string, run_id, "", "Prefix of event ids (default: time).");
ABSL_FLAG(double, rate, 0,
          "Events/s to offer in all (0: as fast as accepted), to measure the "
          "delay below saturation.");
ABSL_FLAG(int, spread_days, 30,
          "Event times fall in the last this many days, as live feeds' do.");

namespace {

struct Organisation {
  std::vector<std::string> teams;  // Leaves, where events land.
  std::vector<std::string> kpis;
  int units = 0;
};

// A tree with `fanout` children per unit down to `depth` levels.
Organisation BuildOrganisation(strata::v1::DefinitionBatch& batch, int fanout,
                               int depth, int kpi_count) {
  Organisation org;
  std::vector<std::string> level = {"bench-root"};
  auto add_unit = [&](const std::string& id, const std::string& parent) {
    strata::v1::OrgUnit* u = batch.add_changes()->mutable_org_unit();
    u->set_unit_id(id);
    u->set_name(id);
    u->set_parent_id(parent);
    ++org.units;
  };
  add_unit(level[0], "");
  for (int d = 1; d < depth; ++d) {
    // Wide at the top, narrowing below, like a real enterprise.
    const int children = d == 1 ? fanout : std::max(2, fanout / 2);
    std::vector<std::string> next;
    for (const std::string& parent : level) {
      for (int c = 0; c < children; ++c) {
        next.push_back(absl::StrCat(parent, ".", c));
        add_unit(next.back(), parent);
      }
    }
    level = std::move(next);
  }
  org.teams = level;
  for (int k = 0; k < kpi_count; ++k) {
    strata::v1::Kpi* kpi = batch.add_changes()->mutable_kpi();
    kpi->set_kpi_id(absl::StrCat("kpi-", k));
    kpi->set_name(kpi->kpi_id());
    kpi->set_polarity(strata::v1::POLARITY_HIGHER_IS_BETTER);
    kpi->set_time_aggregation(k % 5 == 4 ? strata::v1::TIME_AGGREGATION_LAST
                                         : strata::v1::TIME_AGGREGATION_SUM);
    kpi->set_hierarchy_aggregation(strata::v1::HIERARCHY_AGGREGATION_SUM);
    kpi->mutable_thresholds()->set_green_pct(100);
    kpi->mutable_thresholds()->set_amber_pct(90);
    org.kpis.push_back(kpi->kpi_id());
  }
  return org;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * (values.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_server),
                                     grpc::InsecureChannelCredentials());
  const int64_t total = absl::GetFlag(FLAGS_events);
  const int batch_size = absl::GetFlag(FLAGS_batch);
  const int streams = absl::GetFlag(FLAGS_streams);
  std::string run_id = absl::GetFlag(FLAGS_run_id);
  if (run_id.empty()) run_id = absl::StrCat(absl::ToUnixSeconds(absl::Now()));

  strata::v1::DefinitionBatch definitions;
  Organisation org =
      BuildOrganisation(definitions, absl::GetFlag(FLAGS_fanout),
                        absl::GetFlag(FLAGS_depth), absl::GetFlag(FLAGS_kpis));
  {
    auto admin = strata::v1::AdminService::NewStub(channel);
    grpc::ClientContext context;
    strata::v1::ApplyDefinitionsResponse response;
    grpc::Status s = admin->ApplyDefinitions(&context, definitions, &response);
    if (!s.ok()) {
      std::fprintf(stderr, "definitions: %s\n", s.error_message().c_str());
      return 1;
    }
  }
  std::printf("organisation: %d units, depth %d, %zu teams, %zu KPIs\n",
              org.units, absl::GetFlag(FLAGS_depth), org.teams.size(),
              org.kpis.size());

  // Every event falls in one year, so the root's yearly cells count them
  // all: the window ends now, or at the year's end if it would cross it.
  const int year = absl::ToCivilYear(absl::Now(), absl::UTCTimeZone()).year();
  const int64_t year_start = absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilYear(year), absl::UTCTimeZone()));
  const int64_t spread = int64_t{86400} * absl::GetFlag(FLAGS_spread_days);
  const int64_t window_start =
      std::max(year_start, absl::ToUnixSeconds(absl::Now()) - spread);
  const int64_t window = std::max<int64_t>(
      1, std::min(spread, absl::ToUnixSeconds(absl::Now()) - window_start));
  strata::v1::BatchGetRollupsRequest root_query;
  for (const std::string& kpi : org.kpis) {
    strata::v1::RollupKey* key = root_query.add_keys();
    key->set_kpi_id(kpi);
    key->set_unit_id("bench-root");
    key->mutable_period()->set_kind(strata::v1::PERIOD_KIND_YEAR);
    key->mutable_period()->set_label(absl::StrCat(year));
  }
  auto query = strata::v1::RollupQueryService::NewStub(channel);
  auto rolled_up = [&]() -> int64_t {
    grpc::ClientContext context;
    strata::v1::BatchGetRollupsResponse response;
    if (!query->BatchGetRollups(&context, root_query, &response).ok())
      return -1;
    int64_t count = 0;
    for (const auto& r : response.records()) count += r.event_count();
    return count;
  };
  const int64_t baseline = std::max<int64_t>(0, rolled_up());

  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> accepted{0};
  std::atomic<bool> failed{false};
  std::atomic<int> streams_done{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> senders;
  for (int s = 0; s < streams; ++s) {
    senders.emplace_back([&, s] {
      auto ingest = strata::v1::IngestService::NewStub(channel);
      grpc::ClientContext context;
      strata::v1::IngestResponse response;
      auto writer = ingest->IngestStream(&context, &response);
      std::mt19937_64 rng(s);
      strata::v1::IngestRequest request;
      const int64_t mine = total / streams + (s < total % streams ? 1 : 0);
      const double my_rate = absl::GetFlag(FLAGS_rate) / streams;
      for (int64_t i = 0; i < mine;) {
        if (my_rate > 0) {
          // Paced: batch k leaves at start + k * batch / rate.
          absl::SleepFor(start + absl::Seconds(i / my_rate) - absl::Now());
        }
        request.Clear();
        for (int b = 0; b < batch_size && i < mine; ++b, ++i) {
          strata::v1::KpiEvent* e = request.add_events();
          e->set_event_id(absl::StrCat(run_id, "-", s, "-", i));
          e->set_kpi_id(org.kpis[rng() % org.kpis.size()]);
          e->set_unit_id(org.teams[rng() % org.teams.size()]);
          e->mutable_event_time()->set_seconds(window_start + rng() % window);
          e->set_value(static_cast<double>(rng() % 10000) / 100.0);
          e->set_source("bench");
        }
        if (!writer->Write(request)) break;
        sent += request.events_size();
      }
      writer->WritesDone();
      grpc::Status status = writer->Finish();
      if (!status.ok()) {
        std::fprintf(stderr, "stream %d: %s\n", s,
                     status.error_message().c_str());
        failed = true;
      }
      accepted += response.accepted();
      ++streams_done;
    });
  }

  // Sample (time, events sent) every 10 ms; each sample's delay is until the
  // root has rolled up that many events.
  struct Sample {
    absl::Time at;
    int64_t sent;
  };
  std::vector<Sample> samples;
  std::vector<double> delays_ms;
  size_t next_sample = 0;
  absl::Time accepted_at = absl::InfinitePast();
  absl::Time rolled_up_at = absl::InfinitePast();
  int64_t visible = 0;
  bool senders_done = false;
  while (true) {
    const absl::Time now = absl::Now();
    if (!senders_done) samples.push_back({now, sent.load()});
    visible = rolled_up() - baseline;
    while (next_sample < samples.size() &&
           samples[next_sample].sent <= visible) {
      delays_ms.push_back(
          absl::ToDoubleMilliseconds(now - samples[next_sample].at));
      ++next_sample;
    }
    if (!senders_done && streams_done.load() == streams) {
      for (auto& t : senders) t.join();
      senders_done = true;
      accepted_at = absl::Now();
    }
    if (senders_done && (visible >= accepted.load() || failed)) {
      rolled_up_at = absl::Now();
      break;
    }
    if (now - start > absl::Minutes(10)) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (!senders_done) {
    for (auto& t : senders) t.join();
    accepted_at = absl::Now();
  }
  const double accept_s = absl::ToDoubleSeconds(accepted_at - start);
  const double rollup_s = absl::ToDoubleSeconds(rolled_up_at - start);
  std::printf("events: %lld sent, %lld accepted, %lld rolled up\n",
              static_cast<long long>(sent.load()),
              static_cast<long long>(accepted.load()),
              static_cast<long long>(visible));
  std::printf("accepted:  %.0f events/s (%.2f s)\n", accepted.load() / accept_s,
              accept_s);
  std::printf("rolled up: %.0f events/s (%.2f s)\n", visible / rollup_s,
              rollup_s);
  std::printf(
      "ingest-to-visible delay: median %.0f ms, p99 %.0f ms (%zu samples)\n",
      Percentile(delays_ms, 0.5), Percentile(delays_ms, 0.99),
      delays_ms.size());
  return failed || visible != accepted.load() ? 1 : 0;
}
