// Crash and damage: the all-in-one `strata serve` on loopback, killed with
// SIGKILL at random points, its stores truncated or flipped, its log
// directory restored from an older copy. Every outcome must be exact totals
// or a loud, precise refusal; never a plausible wrong number.
//
// An oracle computes the exact expected rollups of a seeded workload (one
// root, two business units, four teams; `sales` summed, `headcount` last)
// for whichever events have been acknowledged, and the alerts the final
// totals imply. A feeder sends the events in batches through IngestService
// and, as a real feed would, resends a batch whose outcome it does not know.
//
// Cases: (1) SIGKILL at random points while feeding and while starting;
// (2) each derived store (rollup, alerts, ingest) truncated, flipped,
// stripped of CURRENT or of a table file; (3) the log itself so damaged,
// and its newest write-ahead log cut just after a SIGKILL; (4) an older
// copy of the log restored under newer state; (5) a restart after a quiet
// spell still accepts events. Each case takes 3-17 s.
//
// The seed is printed; reproduce a case with
//   STRATA_FAULT_SEED=<seed> build/tests/crash_and_damage_test
//       --gtest_filter=<case>
// Damage (file, offset, length) follows from the seed alone; where a kill
// lands also depends on timing, so each case keeps a journal of what was
// done and what came of it, printed with the server's logs on failure.

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/grpcutil/health_client.h"
#include "strata/v1/admin_service.grpc.pb.h"
#include "strata/v1/alert_service.grpc.pb.h"
#include "strata/v1/ingest_service.grpc.pb.h"
#include "strata/v1/query_service.grpc.pb.h"
#include "tests/harness/child_process.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using ::strata::testing::ChildProcess;

// How long a start may take to reach SERVING or a refusal, and how long
// rollups and alerts may take to reflect what was acknowledged.
constexpr absl::Duration kOutcomeTimeout = absl::Seconds(20);
constexpr absl::Duration kSettleTimeout = absl::Seconds(15);

// ---------------------------------------------------------------------------
// Seed and random numbers: one seed for the run, one stream per case, and
// arithmetic of our own so that a seed means the same on every library.

uint64_t SuiteSeed() {
  static const uint64_t seed = [] {
    uint64_t s = 0;
    const char* env = std::getenv("STRATA_FAULT_SEED");
    if (env == nullptr || !absl::SimpleAtoi(env, &s)) {
      s = (static_cast<uint64_t>(std::random_device()()) << 32) ^
          std::random_device()();
    }
    std::cout << "crash_and_damage_test: STRATA_FAULT_SEED=" << s << std::endl;
    return s;
  }();
  return seed;
}

uint64_t Fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n) { return engine_() % n; }
  // Uniform in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo + 1)));
  }
  bool OneIn(uint64_t n) { return Below(n) == 0; }
  uint64_t Next() { return engine_(); }
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

// ---------------------------------------------------------------------------
// The organisation and the workload.

// acme -> east -> {east-1, east-2}; acme -> west -> {west-1, west-2}.
constexpr int kUnitCount = 7;
constexpr std::array<const char*, kUnitCount> kUnits = {
    "acme", "east", "west", "east-1", "east-2", "west-1", "west-2"};
constexpr std::array<int, kUnitCount> kParent = {-1, 0, 0, 1, 1, 2, 2};
constexpr int kFirstTeam = 3;
constexpr int kTeamCount = 4;

enum Kpi { kSales = 0, kHeadcount = 1, kKpiCount = 2 };
constexpr std::array<const char*, kKpiCount> kKpis = {"sales", "headcount"};

// 2026-01 .. 2026-06, 2026-Q1, 2026-Q2, 2026.
constexpr int kMonths = 6;
constexpr int kPeriodCount = kMonths + 2 + 1;
constexpr int64_t kJan2026 = 1767225600;  // 2026-01-01T00:00:00Z
constexpr std::array<int, kMonths> kMonthDays = {31, 28, 31, 30, 31, 30};

v1::RollupKey KeyOf(int kpi, int unit, int period) {
  v1::RollupKey key;
  key.set_kpi_id(kKpis[kpi]);
  key.set_unit_id(kUnits[unit]);
  if (period < kMonths) {
    key.mutable_period()->set_kind(v1::PERIOD_KIND_MONTH);
    key.mutable_period()->set_label(absl::StrCat("2026-0", period + 1));
  } else if (period < kMonths + 2) {
    key.mutable_period()->set_kind(v1::PERIOD_KIND_QUARTER);
    key.mutable_period()->set_label(
        absl::StrCat("2026-Q", period - kMonths + 1));
  } else {
    key.mutable_period()->set_kind(v1::PERIOD_KIND_YEAR);
    key.mutable_period()->set_label("2026");
  }
  return key;
}

int CellIndex(int kpi, int unit, int period) {
  return (kpi * kUnitCount + unit) * kPeriodCount + period;
}
constexpr int kCellCount = kKpiCount * kUnitCount * kPeriodCount;

std::string CellName(int cell) {
  const v1::RollupKey key =
      KeyOf(cell / (kUnitCount * kPeriodCount),
            cell / kPeriodCount % kUnitCount, cell % kPeriodCount);
  return absl::StrCat(key.kpi_id(), "/", key.unit_id(), "/",
                      key.period().label());
}

// The month (0-based) of a time in the first half of 2026.
int MonthOf(int64_t seconds) {
  int64_t start = kJan2026;
  for (int m = 0; m < kMonths; ++m) {
    start += int64_t{kMonthDays[m]} * 86400;
    if (seconds < start) return m;
  }
  return kMonths - 1;
}

struct Event {
  std::string id;
  int kpi = 0;
  int team = 0;  // Unit index.
  int64_t seconds = 0;
  int32_t nanos = 0;  // Unique per event: no two events share a time.
  int64_t fixed = 0;  // Value in 1/10,000.
};

struct Target {
  int kpi = 0;
  int unit = 0;
  int month = 0;
  double value = 0;
};

struct Workload {
  std::vector<Event> events;
  std::vector<std::pair<size_t, size_t>> batches;  // [begin, end) of events.
  std::vector<Target> targets;

  size_t batch_count() const { return batches.size(); }
};

// `count` events with seeded KPIs, teams, times and values, cut into batches
// of 1..max_batch.
Workload MakeWorkload(Rng& rng, int count, int max_batch) {
  Workload w;
  const int64_t half_year = int64_t{181} * 86400;
  for (int i = 0; i < count; ++i) {
    Event e;
    e.id = absl::StrCat("ev-", i);
    e.kpi = rng.OneIn(2) ? kSales : kHeadcount;
    e.team = kFirstTeam + static_cast<int>(rng.Below(kTeamCount));
    e.seconds = kJan2026 + static_cast<int64_t>(rng.Below(half_year));
    e.nanos = i;
    e.fixed = e.kpi == kSales ? rng.Between(1, 5'000'000)         // 0.0001..500
                              : rng.Between(100'000, 1'000'000);  // 10..100
    w.events.push_back(std::move(e));
  }
  for (size_t begin = 0; begin < w.events.size();) {
    const size_t end =
        std::min(w.events.size(),
                 begin + static_cast<size_t>(rng.Between(1, max_batch)));
    w.batches.emplace_back(begin, end);
    begin = end;
  }
  // Month targets that the growing totals cross: sales for every unit in
  // Q1 (a team's month ends near 25 events x 250), headcount for teams in
  // January and February.
  for (int unit = 0; unit < kUnitCount; ++unit) {
    const int scale = unit == 0 ? 4 : unit < kFirstTeam ? 2 : 1;
    for (int month = 0; month < 3; ++month) {
      w.targets.push_back(
          {kSales, unit, month, scale * rng.Between(100'000, 800'000) / 100.0});
    }
    if (unit >= kFirstTeam) {
      for (int month = 0; month < 2; ++month) {
        w.targets.push_back(
            {kHeadcount, unit, month, rng.Between(3'000, 9'000) / 100.0});
      }
    }
  }
  return w;
}

v1::KpiEvent ToProto(const Event& e) {
  v1::KpiEvent p;
  p.set_event_id(e.id);
  p.set_kpi_id(kKpis[e.kpi]);
  p.set_unit_id(kUnits[e.team]);
  p.mutable_event_time()->set_seconds(e.seconds);
  p.mutable_event_time()->set_nanos(e.nanos);
  p.set_value(static_cast<double>(e.fixed) / 10'000.0);
  p.set_source("faults");
  return p;
}

v1::DefinitionBatch Definitions(const Workload& w) {
  using ::strata::testing::KpiChange;
  using ::strata::testing::TargetChange;
  using ::strata::testing::UnitChange;
  std::vector<v1::DefinitionChange> changes;
  for (int u = 0; u < kUnitCount; ++u) {
    changes.push_back(
        UnitChange(kUnits[u], kParent[u] < 0 ? "" : kUnits[kParent[u]]));
  }
  changes.push_back(KpiChange(kKpis[kSales], v1::TIME_AGGREGATION_SUM));
  changes.push_back(KpiChange(kKpis[kHeadcount], v1::TIME_AGGREGATION_LAST));
  for (const Target& t : w.targets) {
    changes.push_back(TargetChange(kKpis[t.kpi], kUnits[t.unit],
                                   absl::StrCat("2026-0", t.month + 1),
                                   t.value));
  }
  return ::strata::testing::Batch(std::move(changes));
}

// ---------------------------------------------------------------------------
// The oracle: exact rollups of a set of events, computed independently of
// the code under test.

struct ExpectedCell {
  int64_t fixed = 0;
  int64_t count = 0;
  int64_t last_seconds = 0;
  int32_t last_nanos = 0;
};

// Per event: whether it is in the set.
using EventSet = std::vector<char>;

std::vector<ExpectedCell> ExpectedCells(const Workload& w, const EventSet& in) {
  std::vector<ExpectedCell> cells(kCellCount);
  // `last`: the latest event of each team in each period.
  std::map<std::pair<int, int>, const Event*> latest;  // (team, period)
  for (size_t i = 0; i < w.events.size(); ++i) {
    if (!in[i]) continue;
    const Event& e = w.events[i];
    const int month = MonthOf(e.seconds);
    for (int period : {month, kMonths + month / 3, kMonths + 2}) {
      for (int u = e.team; u >= 0; u = kParent[u]) {
        ExpectedCell& c = cells[CellIndex(e.kpi, u, period)];
        ++c.count;
        if (std::tie(e.seconds, e.nanos) >
            std::tie(c.last_seconds, c.last_nanos)) {
          c.last_seconds = e.seconds;
          c.last_nanos = e.nanos;
        }
        if (e.kpi == kSales) c.fixed += e.fixed;
      }
      if (e.kpi == kHeadcount) {
        const Event*& l = latest[{e.team, period}];
        if (l == nullptr ||
            std::tie(e.seconds, e.nanos) > std::tie(l->seconds, l->nanos)) {
          l = &e;
        }
      }
    }
  }
  for (const auto& [team_period, e] : latest) {
    for (int u = team_period.first; u >= 0; u = kParent[u]) {
      cells[CellIndex(kHeadcount, u, team_period.second)].fixed += e->fixed;
    }
  }
  return cells;
}

// "-1234.5" -> -12345000; nullopt when malformed.
std::optional<int64_t> ParseFixed(absl::string_view text) {
  const bool negative = absl::ConsumePrefix(&text, "-");
  absl::string_view whole = text, fraction;
  if (size_t dot = text.find('.'); dot != absl::string_view::npos) {
    whole = text.substr(0, dot);
    fraction = text.substr(dot + 1);
  }
  if (whole.empty() || fraction.size() > 4) return std::nullopt;
  int64_t units = 0, frac = 0;
  if (!absl::SimpleAtoi(whole, &units)) return std::nullopt;
  if (!fraction.empty()) {
    if (!absl::SimpleAtoi(fraction, &frac)) return std::nullopt;
    for (size_t i = fraction.size(); i < 4; ++i) frac *= 10;
  }
  const int64_t value = units * 10'000 + frac;
  return negative ? -value : value;
}

std::string FormatFixed(int64_t fixed) {
  const char* sign = fixed < 0 ? "-" : "";
  const int64_t magnitude = fixed < 0 ? -fixed : fixed;
  std::string frac = absl::StrCat(magnitude % 10'000);
  frac.insert(0, 4 - frac.size(), '0');
  return absl::StrCat(sign, magnitude / 10'000, ".", frac);
}

// RAG status as the KPIs are defined (higher is better, green at 100 %,
// amber at 90 %); nullopt within rounding of a boundary.
std::optional<v1::KpiStatus> ExpectedStatus(int64_t fixed, double target) {
  const double actual = static_cast<double>(fixed) / 10'000.0;
  const double green = target * 100 / 100.0;
  const double amber = target * 90 / 100.0;
  const double margin = 1e-6 * std::max(1.0, target);
  if (std::abs(actual - green) < margin || std::abs(actual - amber) < margin) {
    return std::nullopt;
  }
  if (actual >= green) return v1::KPI_STATUS_GREEN;
  if (actual >= amber) return v1::KPI_STATUS_AMBER;
  return v1::KPI_STATUS_RED;
}

// ---------------------------------------------------------------------------
// The server: `strata serve` on a data directory, started again and again.

std::shared_ptr<grpc::Channel> Channel(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureChannelCredentials());
}

template <typename Call>
grpc::Status WithDeadline(absl::Duration timeout, Call call) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return call(context);
}

std::string ReadWholeFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool IsRefusal(const grpc::Status& status) {
  return (status.error_code() == grpc::StatusCode::DATA_LOSS ||
          status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) &&
         !status.error_message().empty();
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat("code ", status.error_code(), ": ",
                      status.error_message());
}

struct StartOutcome {
  enum Kind {
    kServing,          // Health SERVING.
    kRefusedToStart,   // Exited, printing why.
    kRefusingToServe,  // Up, NOT_SERVING, queries answering the damage.
    kNoOutcome,        // None of these in time: stuck, or crashed.
  };
  Kind kind = kNoOutcome;
  std::string detail;  // The refusal's message, or what was last seen.
  int exit_code = 0;   // kRefusedToStart only.
};

const char* KindName(StartOutcome::Kind kind) {
  switch (kind) {
    case StartOutcome::kServing:
      return "SERVING";
    case StartOutcome::kRefusedToStart:
      return "refused to start";
    case StartOutcome::kRefusingToServe:
      return "up, refusing to serve";
    case StartOutcome::kNoOutcome:
      return "no outcome";
  }
  return "?";
}

class Server {
 public:
  explicit Server(fs::path dir) : dir_(std::move(dir)) {}

  const fs::path& dir() const { return dir_; }
  fs::path data() const { return dir_ / "data"; }

  // Starts the binary on data(), without waiting for anything.
  void Launch() {
    port_ = 0;
    port_file_ = dir_ / absl::StrCat("port-", starts_);
    log_ = dir_ / absl::StrCat("strata-", starts_, ".log");
    ++starts_;
    process_ = std::make_unique<ChildProcess>(
        STRATA_BIN,
        std::vector<std::string>{"serve", "--listen=127.0.0.1:0",
                                 "--data_dir=" + data().string(),
                                 "--port_file=" + port_file_.string()});
    absl::Status started = process_->Start(log_.string());
    ASSERT_TRUE(started.ok()) << started;
  }

  // Waits for the start to end in SERVING or a refusal (see StartOutcome).
  StartOutcome AwaitOutcome(absl::Duration timeout = kOutcomeTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string last = "no port file";
    while (absl::Now() < deadline) {
      if (std::optional<std::string> line = ExitLine()) {
        // The process printed why it stops; collect its exit code.
        const int code = process_->Stop(absl::Seconds(5));
        return {StartOutcome::kRefusedToStart, *line, code};
      }
      if (port_ == 0) ReadPort();
      if (port_ == 0) {
        absl::SleepFor(absl::Milliseconds(20));
        continue;
      }
      absl::StatusOr<bool> serving = CheckServing(channel_, absl::Seconds(1));
      if (serving.ok() && *serving) return {StartOutcome::kServing, "", 0};
      last = serving.ok() ? "NOT_SERVING" : serving.status().ToString();
      v1::RollupRecord record;
      grpc::Status rollup = GetRollup(KeyOf(kSales, 0, kMonths + 2), record);
      if (IsRefusal(rollup)) {
        return {StartOutcome::kRefusingToServe,
                "rollup query: " + Describe(rollup), 0};
      }
      v1::ListAlertsResponse alerts;
      grpc::Status listed = ListAlerts(alerts);
      if (IsRefusal(listed)) {
        return {StartOutcome::kRefusingToServe,
                "alerts query: " + Describe(listed), 0};
      }
      last = absl::StrCat(last, "; rollup query: ", Describe(rollup),
                          "; alerts query: ", Describe(listed));
      absl::SleepFor(absl::Milliseconds(20));
    }
    return {StartOutcome::kNoOutcome,
            absl::StrCat("neither SERVING nor a refusal after ",
                         absl::FormatDuration(timeout), "; last: ", last),
            0};
  }

  // Launch() and AwaitOutcome(), requiring SERVING.
  ::testing::AssertionResult StartServing() {
    Launch();
    if (::testing::Test::HasFatalFailure()) {
      return ::testing::AssertionFailure() << "launch failed";
    }
    const StartOutcome outcome = AwaitOutcome();
    if (outcome.kind == StartOutcome::kServing) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "start " << starts_ - 1 << ": " << KindName(outcome.kind) << ": "
           << outcome.detail;
  }

  // SIGKILL: no chance to flush anything.
  void Crash() {
    if (process_) process_->Kill();
  }
  // SIGTERM; the exit code.
  int Stop() { return process_ ? process_->Stop(absl::Seconds(15)) : -1; }

  grpc::Status GetRollup(const v1::RollupKey& key, v1::RollupRecord& record) {
    v1::GetRollupRequest request;
    *request.mutable_key() = key;
    return WithDeadline(absl::Seconds(5), [&](grpc::ClientContext& c) {
      return query_->GetRollup(&c, request, &record);
    });
  }

  // Every cell of the organisation in one call.
  grpc::Status AllCells(std::map<int, v1::RollupRecord>& cells) {
    v1::BatchGetRollupsRequest request;
    for (int cell = 0; cell < kCellCount; ++cell) {
      *request.add_keys() =
          KeyOf(cell / (kUnitCount * kPeriodCount),
                cell / kPeriodCount % kUnitCount, cell % kPeriodCount);
    }
    v1::BatchGetRollupsResponse response;
    grpc::Status status =
        WithDeadline(absl::Seconds(5), [&](grpc::ClientContext& c) {
          return query_->BatchGetRollups(&c, request, &response);
        });
    cells.clear();
    if (!status.ok()) return status;
    for (const v1::RollupRecord& r : response.records()) {
      int kpi = -1, unit = -1, period = -1;
      for (int k = 0; k < kKpiCount; ++k) {
        if (r.key().kpi_id() == kKpis[k]) kpi = k;
      }
      for (int u = 0; u < kUnitCount; ++u) {
        if (r.key().unit_id() == kUnits[u]) unit = u;
      }
      for (int p = 0; p < kPeriodCount; ++p) {
        if (r.key().period().label() == KeyOf(0, 0, p).period().label()) {
          period = p;
        }
      }
      if (kpi < 0 || unit < 0 || period < 0) {
        return grpc::Status(grpc::StatusCode::INTERNAL,
                            "unexpected key " + r.key().ShortDebugString());
      }
      cells[CellIndex(kpi, unit, period)] = r;
    }
    return status;
  }

  grpc::Status ListAlerts(v1::ListAlertsResponse& response) {
    v1::ListAlertsRequest request;
    request.set_include_resolved(true);
    return WithDeadline(absl::Seconds(5), [&](grpc::ClientContext& c) {
      return alerts_->ListAlerts(&c, request, &response);
    });
  }

  grpc::Status Ingest(const v1::IngestRequest& request,
                      v1::IngestResponse& response) {
    return WithDeadline(absl::Seconds(5), [&](grpc::ClientContext& c) {
      return ingest_->Ingest(&c, request, &response);
    });
  }

  grpc::Status ApplyDefinitions(const v1::DefinitionBatch& batch) {
    v1::ApplyDefinitionsResponse response;
    return WithDeadline(absl::Seconds(10), [&](grpc::ClientContext& c) {
      return admin_->ApplyDefinitions(&c, batch, &response);
    });
  }

  std::optional<bool> Serving() {
    absl::StatusOr<bool> serving = CheckServing(channel_, absl::Seconds(2));
    if (!serving.ok()) return std::nullopt;
    return *serving;
  }

  // Every start's output, for a failing test.
  std::string Logs() const {
    std::string all;
    for (int i = 0; i < starts_; ++i) {
      absl::StrAppend(&all, "---- start ", i, " ----\n",
                      ReadWholeFile(dir_ / absl::StrCat("strata-", i, ".log")));
    }
    return all;
  }

 private:
  void ReadPort() {
    int port = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadWholeFile(port_file_)),
                          &port) ||
        port <= 0) {
      return;
    }
    port_ = port;
    channel_ = Channel(port);
    ingest_ = v1::IngestService::NewStub(channel_);
    query_ = v1::RollupQueryService::NewStub(channel_);
    admin_ = v1::AdminService::NewStub(channel_);
    alerts_ = v1::AlertService::NewStub(channel_);
  }

  // The line `strata: <status>` that main() prints when it exits with an
  // error (log lines start with a severity and a time instead).
  std::optional<std::string> ExitLine() const {
    std::istringstream lines(ReadWholeFile(log_));
    for (std::string line; std::getline(lines, line);) {
      if (absl::StartsWith(line, "strata: ")) return line;
    }
    return std::nullopt;
  }

  fs::path dir_;
  int starts_ = 0;
  fs::path port_file_;
  fs::path log_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IngestService::Stub> ingest_;
  std::unique_ptr<v1::RollupQueryService::Stub> query_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::AlertService::Stub> alerts_;
};

// ---------------------------------------------------------------------------
// The feeder: sends batches in order and knows, per batch, whether it was
// acknowledged, is uncertain (sent, outcome unknown) or was never sent.

class Feeder {
 public:
  enum BatchState : char { kUnsent, kUncertain, kAcked };

  explicit Feeder(const Workload& w)
      : w_(w), state_(w.batch_count(), kUnsent) {}

  // Sends the uncertain batches again, then new ones in order up to batch
  // `until`, pausing `pause_ms` (a range) between batches; stops at the
  // first batch whose outcome it cannot know (the server went away) or
  // once `stop` is set. Thread-compatible: one Feed() at a time.
  void Feed(Server& server, size_t until, std::pair<int, int> pause_ms = {0, 0},
            uint64_t pacing_seed = 0, const std::atomic<bool>* stop = nullptr) {
    Rng pacing(pacing_seed);
    std::vector<size_t> order;
    for (size_t b = 0; b < next_; ++b) {
      if (state_[b] == kUncertain) order.push_back(b);
    }
    for (size_t b = next_; b < until && b < w_.batch_count(); ++b) {
      order.push_back(b);
    }
    for (size_t b : order) {
      if (stop != nullptr && stop->load()) return;
      if (b >= next_) next_ = b + 1;
      if (!Send(server, b)) return;
      if (pause_ms.second > 0) {
        absl::SleepFor(absl::Milliseconds(
            pacing.Between(pause_ms.first, pause_ms.second)));
      }
    }
  }

  // Events of acknowledged batches.
  EventSet Acked() const {
    return EventsWhere([](char s) { return s == kAcked; });
  }
  // Events of batches sent at least once.
  EventSet Sent() const {
    return EventsWhere([](char s) { return s != kUnsent; });
  }
  size_t next() const { return next_; }
  size_t acked_batches() const {
    return std::count(state_.begin(), state_.end(), kAcked);
  }
  size_t uncertain_batches() const {
    return std::count(state_.begin(), state_.end(), kUncertain);
  }
  bool all_sent_acked() const { return uncertain_batches() == 0; }
  // Refusals of valid events: each one is a failure of the system.
  const std::vector<std::string>& rejections() const { return rejections_; }
  std::string Summary() const {
    return absl::StrCat(
        acked_batches(), " batches acknowledged, ", uncertain_batches(),
        " uncertain, ", w_.batch_count() - next_, " not yet sent",
        last_unknown_.empty() ? "" : "; last unknown outcome: ", last_unknown_);
  }

 private:
  // False when the outcome is unknown (the batch stays uncertain).
  bool Send(Server& server, size_t b) {
    v1::IngestRequest request;
    for (size_t i = w_.batches[b].first; i < w_.batches[b].second; ++i) {
      *request.add_events() = ToProto(w_.events[i]);
    }
    for (int attempt = 0;; ++attempt) {
      v1::IngestResponse response;
      grpc::Status status = server.Ingest(request, response);
      if (status.ok()) {
        state_[b] = kAcked;
        return true;
      }
      if (state_[b] == kUnsent) state_[b] = kUncertain;
      switch (status.error_code()) {
        case grpc::StatusCode::RESOURCE_EXHAUSTED:  // Back-pressure.
        case grpc::StatusCode::ABORTED:             // A concurrent claim.
          if (attempt < 100) {
            absl::SleepFor(absl::Milliseconds(50));
            continue;
          }
          last_unknown_ = absl::StrCat("batch ", b, ": ", Describe(status));
          return false;
        case grpc::StatusCode::UNAVAILABLE:
        case grpc::StatusCode::DEADLINE_EXCEEDED:
        case grpc::StatusCode::CANCELLED:
        case grpc::StatusCode::UNKNOWN:
        case grpc::StatusCode::INTERNAL:
          last_unknown_ = absl::StrCat("batch ", b, ": ", Describe(status));
          return false;
        default:
          rejections_.push_back(
              absl::StrCat("batch ", b, ": ", Describe(status)));
          return false;
      }
    }
  }

  template <typename Pred>
  EventSet EventsWhere(Pred pred) const {
    EventSet set(w_.events.size(), 0);
    for (size_t b = 0; b < state_.size(); ++b) {
      if (!pred(state_[b])) continue;
      for (size_t i = w_.batches[b].first; i < w_.batches[b].second; ++i) {
        set[i] = 1;
      }
    }
    return set;
  }

  const Workload& w_;
  std::vector<char> state_;
  size_t next_ = 0;  // Batches before it were sent at least once.
  std::vector<std::string> rejections_;
  std::string last_unknown_;
};

// ---------------------------------------------------------------------------
// Checks against the oracle.

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

std::string FirstLines(const std::vector<std::string>& lines, size_t n = 12) {
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
    Server& server, const Workload& w, const EventSet& events,
    absl::Duration timeout = kSettleTimeout) {
  const std::vector<ExpectedCell> expected = ExpectedCells(w, events);
  const absl::Time deadline = absl::Now() + timeout;
  std::string last;
  while (true) {
    std::map<int, v1::RollupRecord> got;
    grpc::Status status = server.AllCells(got);
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
::testing::AssertionResult AcknowledgedAreCounted(Server& server,
                                                  const Workload& w,
                                                  const EventSet& acked,
                                                  const EventSet& sent) {
  const std::vector<ExpectedCell> low = ExpectedCells(w, acked);
  const std::vector<ExpectedCell> high = ExpectedCells(w, sent);
  std::map<int, v1::RollupRecord> got;
  grpc::Status status = server.AllCells(got);
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
    Server& server, const Workload& w, const EventSet& events,
    absl::Duration timeout = kSettleTimeout) {
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
    grpc::Status status = server.ListAlerts(response);
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
std::string AlertSummary(Server& server) {
  v1::ListAlertsResponse response;
  grpc::Status status = server.ListAlerts(response);
  if (!status.ok()) return "alerts query: " + Describe(status);
  std::map<int, int> by_status;
  for (const v1::Alert& a : response.alerts()) ++by_status[a.status()];
  return absl::StrCat(response.alerts_size(),
                      " alerts: ", by_status[v1::KPI_STATUS_RED], " red, ",
                      by_status[v1::KPI_STATUS_AMBER], " amber, ",
                      by_status[v1::KPI_STATUS_GREEN], " green");
}

// While the server refuses to serve, whatever a query does answer must not
// be a wrong number: a rollup query answers a refusal, or totals exactly
// those of `acked`.
::testing::AssertionResult NoWrongTotalWhileRefusing(Server& server,
                                                     const Workload& w,
                                                     const EventSet& acked) {
  if (std::optional<bool> serving = server.Serving(); serving && *serving) {
    return ::testing::AssertionFailure() << "health says SERVING";
  }
  std::map<int, v1::RollupRecord> got;
  grpc::Status status = server.AllCells(got);
  if (!status.ok()) {
    if (status.error_message().empty()) {
      return ::testing::AssertionFailure()
             << "rollup query refuses without a message: " << Describe(status);
    }
    return ::testing::AssertionSuccess();
  }
  bool overcounted = false;
  std::vector<std::string> diffs =
      Differences(w, ExpectedCells(w, acked), got, &overcounted);
  if (diffs.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "WRONG TOTALS SERVED: health is NOT_SERVING, but the rollup query "
            "answers OK with "
         << diffs.size() << " cells differing from the acknowledged events:\n  "
         << FirstLines(diffs);
}

// ---------------------------------------------------------------------------
// Damage to a RocksDB directory, seeded, while no process has it open.

enum class DamageKind { kTruncate, kFlipByte, kDeleteCurrent, kRemoveSst };

const char* DamageName(DamageKind kind) {
  switch (kind) {
    case DamageKind::kTruncate:
      return "truncate";
    case DamageKind::kFlipByte:
      return "flip";
    case DamageKind::kDeleteCurrent:
      return "delete-CURRENT";
    case DamageKind::kRemoveSst:
      return "remove-sst";
  }
  return "?";
}

// Non-empty .sst, .log and MANIFEST files of `dir`, by name.
std::vector<fs::path> DamageableFiles(const fs::path& dir, bool sst_only) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const bool sst = absl::EndsWith(name, ".sst");
    const bool wanted =
        sst || (!sst_only && (absl::EndsWith(name, ".log") ||
                              absl::StartsWith(name, "MANIFEST-")));
    if (wanted && entry.is_regular_file() && entry.file_size() > 0) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool HasSst(const fs::path& dir) { return !DamageableFiles(dir, true).empty(); }

// Damages `dir`; returns what was done, or an error when there is nothing
// of that kind to damage.
absl::StatusOr<std::string> Damage(const fs::path& dir, DamageKind kind,
                                   Rng& rng) {
  const std::string where = dir.filename().string();
  switch (kind) {
    case DamageKind::kDeleteCurrent: {
      if (!fs::remove(dir / "CURRENT")) {
        return absl::NotFoundError(absl::StrCat(where, ": no CURRENT"));
      }
      return absl::StrCat("deleted ", where, "/CURRENT");
    }
    case DamageKind::kRemoveSst: {
      std::vector<fs::path> files = DamageableFiles(dir, true);
      if (files.empty())
        return absl::NotFoundError(absl::StrCat(where, ": no .sst"));
      const fs::path victim = files[rng.Below(files.size())];
      fs::remove(victim);
      return absl::StrCat("removed ", where, "/", victim.filename().string());
    }
    case DamageKind::kTruncate:
    case DamageKind::kFlipByte: {
      std::vector<fs::path> files = DamageableFiles(dir, false);
      if (files.empty())
        return absl::NotFoundError(absl::StrCat(where, ": no files"));
      const fs::path victim = files[rng.Below(files.size())];
      const uint64_t size = fs::file_size(victim);
      const uint64_t at = rng.Below(size);
      const std::string name =
          absl::StrCat(where, "/", victim.filename().string());
      if (kind == DamageKind::kTruncate) {
        fs::resize_file(victim, at);
        return absl::StrCat("truncated ", name, " from ", size, " to ", at,
                            " bytes");
      }
      const int mask = static_cast<int>(rng.Between(1, 255));
      std::fstream file(victim,
                        std::ios::in | std::ios::out | std::ios::binary);
      file.seekg(static_cast<std::streamoff>(at));
      const int byte = file.get();
      file.seekp(static_cast<std::streamoff>(at));
      file.put(static_cast<char>(byte ^ mask));
      if (!file.good()) return absl::InternalError("cannot write " + name);
      return absl::StrCat("flipped byte ", at, " of ", size, " in ", name,
                          " (xor 0x", absl::Hex(mask), ")");
    }
  }
  return absl::InternalError("unknown damage");
}

// ---------------------------------------------------------------------------
// The fixture: a temporary directory, a seeded stream, and a journal of
// what was done, printed with the seed when a case fails.

class CrashAndDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const std::string suite = ::testing::UnitTest::GetInstance()
                                  ->current_test_info()
                                  ->test_suite_name();
    case_name_ = absl::StrCat(suite, ".", name);
    rng_ = std::make_unique<Rng>(SuiteSeed() ^ Fnv1a(case_name_));
    dir_ = fs::temp_directory_path() / absl::StrCat("strata_faults_", getpid(),
                                                    "_",
                                                    Fnv1a(case_name_) % 100000);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Note(absl::StrCat("seed ", SuiteSeed(),
                      "; reproduce with STRATA_FAULT_SEED=", SuiteSeed(),
                      " crash_and_damage_test --gtest_filter=", case_name_));
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "==== " << case_name_ << " journal ====\n"
                << absl::StrJoin(journal_, "\n") << "\n";
      for (Server* s : servers_) std::cerr << s->Logs();
    }
    servers_.clear();
    owned_.clear();  // Kills whatever still runs.
    fs::remove_all(dir_);
  }

  Server& NewServer(const std::string& name) {
    fs::create_directories(dir_ / name);
    owned_.push_back(std::make_unique<Server>(dir_ / name));
    servers_.push_back(owned_.back().get());
    return *owned_.back();
  }

  void Note(const std::string& step) {
    journal_.push_back(step);
    std::cout << "  [" << case_name_ << "] " << step << std::endl;
  }

  // Starts `server` on a fresh directory and applies the definitions.
  void StartFresh(Server& server, const Workload& w) {
    ASSERT_TRUE(server.StartServing()) << server.Logs();
    grpc::Status applied = server.ApplyDefinitions(Definitions(w));
    ASSERT_TRUE(applied.ok()) << Describe(applied);
  }

  // Feeds up to batch `until` and requires every batch acknowledged.
  void FeedAll(Server& server, Feeder& feeder, size_t until) {
    feeder.Feed(server, until);
    ASSERT_TRUE(feeder.rejections().empty()) << FirstLines(feeder.rejections());
    ASSERT_TRUE(feeder.all_sent_acked()) << feeder.Summary();
    ASSERT_GE(feeder.next(), until) << feeder.Summary();
  }

  Rng& rng() { return *rng_; }

  std::string case_name_;
  std::unique_ptr<Rng> rng_;
  fs::path dir_;
  std::vector<std::string> journal_;
  std::vector<std::unique_ptr<Server>> owned_;
  std::vector<Server*> servers_;
};

// 1. SIGKILL at seeded points, while feeding and while starting (replaying),
// then restart on the same data and resend what is not acknowledged. After
// every restart the acknowledged events are all counted and nothing beyond
// what was sent; once resent, the totals are exact; at the end too.
TEST_F(CrashAndDamageTest,
       KillNineAtRandomPointsCountsEveryAcknowledgedEventOnce) {
  constexpr int kKills = 8;
  const Workload w = MakeWorkload(rng(), 3000, 40);
  Feeder feeder(w);
  Server& server = NewServer("kill9");
  StartFresh(server, w);
  if (HasFatalFailure()) return;

  for (int round = 0; round < kKills; ++round) {
    SCOPED_TRACE(absl::StrCat("kill round ", round));
    if (round > 0) {
      server.Launch();
      if (HasFatalFailure()) return;
      // Now and then the kill lands while the server starts and replays.
      if (rng().OneIn(3)) {
        const int delay_ms = static_cast<int>(rng().Between(0, 150));
        absl::SleepFor(absl::Milliseconds(delay_ms));
        server.Crash();
        Note(absl::StrCat("round ", round, ": SIGKILL ", delay_ms,
                          " ms after launch (starting/replaying)"));
        continue;
      }
      const StartOutcome outcome = server.AwaitOutcome();
      ASSERT_EQ(outcome.kind, StartOutcome::kServing)
          << KindName(outcome.kind) << ": " << outcome.detail;
      ASSERT_TRUE(
          AcknowledgedAreCounted(server, w, feeder.Acked(), feeder.Sent()));
    }
    // Resend what is uncertain; then the totals are exact.
    feeder.Feed(server, feeder.next());
    ASSERT_TRUE(feeder.rejections().empty()) << FirstLines(feeder.rejections());
    ASSERT_TRUE(feeder.all_sent_acked()) << feeder.Summary();
    ASSERT_TRUE(ExactTotals(server, w, feeder.Sent()));

    // Feed on a thread; SIGKILL after a seeded delay.
    const int delay_ms = static_cast<int>(rng().Between(10, 300));
    const uint64_t pacing_seed = rng().Next();
    std::atomic<bool> stop{false};
    std::thread feeding([&] {
      feeder.Feed(server, w.batch_count(), {2, 10}, pacing_seed, &stop);
    });
    absl::SleepFor(absl::Milliseconds(delay_ms));
    server.Crash();
    stop = true;
    feeding.join();
    Note(absl::StrCat("round ", round, ": SIGKILL ", delay_ms,
                      " ms into feeding; ", feeder.Summary()));
    ASSERT_TRUE(feeder.rejections().empty()) << FirstLines(feeder.rejections());
  }

  // The last start: everything is sent, acknowledged and counted once.
  ASSERT_TRUE(server.StartServing());
  ASSERT_TRUE(AcknowledgedAreCounted(server, w, feeder.Acked(), feeder.Sent()));
  FeedAll(server, feeder, w.batch_count());
  if (HasFatalFailure()) return;
  const EventSet all(w.events.size(), 1);
  ASSERT_TRUE(ExactTotals(server, w, all));
  EXPECT_TRUE(AlertsMatch(server, w, all));
  EXPECT_EQ(server.Stop(), 0);
  // And again after a clean restart.
  ASSERT_TRUE(server.StartServing());
  EXPECT_TRUE(ExactTotals(server, w, all));
  EXPECT_TRUE(AlertsMatch(server, w, all));
  Note("final: exact after all kills and after a clean restart; " +
       AlertSummary(server));
  EXPECT_EQ(server.Stop(), 0);
}

// 2. Each derived store, damaged in each way in turn (seeded order, file,
// offset and stop signal), is set aside and rebuilt from the log or
// recovered to an older consistent state and replayed: the server comes up
// SERVING with exact totals and consistent alerts, and keeps counting.
class DerivedStoreDamageTest
    : public CrashAndDamageTest,
      public ::testing::WithParamInterface<std::string> {};

TEST_P(DerivedStoreDamageTest, DamagedStoreIsRebuiltToExactTotals) {
  const std::string store = GetParam();
  const Workload w = MakeWorkload(rng(), 1200, 40);
  Feeder feeder(w);
  Server& server = NewServer(store);
  const fs::path store_dir = server.data() / store;
  const fs::path discarded = server.data() / (store + ".discarded");

  std::vector<DamageKind> kinds = {
      DamageKind::kTruncate, DamageKind::kFlipByte, DamageKind::kFlipByte,
      DamageKind::kDeleteCurrent, DamageKind::kRemoveSst};
  rng().Shuffle(kinds);
  const size_t chunks = kinds.size() + 2;
  auto chunk_end = [&](size_t i) { return w.batch_count() * (i + 1) / chunks; };

  StartFresh(server, w);
  if (HasFatalFailure()) return;
  FeedAll(server, feeder, chunk_end(0));
  if (HasFatalFailure()) return;
  ASSERT_TRUE(ExactTotals(server, w, feeder.Sent()));
  // A clean restart turns the first writes into table files.
  ASSERT_EQ(server.Stop(), 0);
  ASSERT_TRUE(server.StartServing());
  FeedAll(server, feeder, chunk_end(1));
  if (HasFatalFailure()) return;
  ASSERT_TRUE(ExactTotals(server, w, feeder.Sent()));

  for (size_t round = 0; round < kinds.size(); ++round) {
    const DamageKind kind = kinds[round];
    SCOPED_TRACE(
        absl::StrCat(store, " damage round ", round, ": ", DamageName(kind)));
    const bool kill = rng().OneIn(2);
    if (kill) {
      server.Crash();
    } else {
      ASSERT_EQ(server.Stop(), 0);
    }
    if (kind == DamageKind::kRemoveSst && !HasSst(store_dir)) {
      // A store rebuilt in the last round has no table file yet.
      ASSERT_TRUE(server.StartServing());
      ASSERT_EQ(server.Stop(), 0);
      ASSERT_TRUE(HasSst(store_dir));
    }
    const fs::file_time_type discarded_before =
        fs::exists(discarded) ? fs::last_write_time(discarded)
                              : fs::file_time_type();
    absl::StatusOr<std::string> done = Damage(store_dir, kind, rng());
    ASSERT_TRUE(done.ok()) << done.status();
    server.Launch();
    if (HasFatalFailure()) return;
    const StartOutcome outcome = server.AwaitOutcome();
    const bool set_aside = fs::exists(discarded) &&
                           fs::last_write_time(discarded) != discarded_before;
    Note(absl::StrCat(
        "round ", round, ": ", kill ? "SIGKILL" : "SIGTERM", ", ", *done,
        " -> ", KindName(outcome.kind),
        set_aside ? " (store set aside, rebuilt)" : " (store kept)",
        outcome.detail.empty() ? "" : ": " + outcome.detail));
    // Derived state is rebuilt from the log: anything but SERVING is a
    // failure here, a loud one at least.
    ASSERT_EQ(outcome.kind, StartOutcome::kServing)
        << KindName(outcome.kind) << ": " << outcome.detail;
    ASSERT_TRUE(ExactTotals(server, w, feeder.Sent()));
    EXPECT_TRUE(AlertsMatch(server, w, feeder.Sent()));
    if (store == "ingest") {
      // The index may have lost ids: a resend of acknowledged events is
      // still counted once.
      v1::IngestRequest again;
      const auto [b, e] = w.batches[1 + rng().Below(feeder.next() - 1)];
      for (size_t i = b; i < e; ++i) *again.add_events() = ToProto(w.events[i]);
      v1::IngestResponse response;
      grpc::Status resent = server.Ingest(again, response);
      ASSERT_TRUE(resent.ok()) << Describe(resent);
      Note(absl::StrCat("  resent events ", b, "..", e - 1, ": ",
                        response.accepted(), " appended again"));
      ASSERT_TRUE(ExactTotals(server, w, feeder.Sent()));
      if (round + 1 == kinds.size()) {
        // Last round (nothing is resent after it): another payload under
        // an acknowledged id. Refused, or appended and ignored by rollup
        // (the first copy stands): either way the totals do not move.
        // Event 0: batch 0 is never the one resent above, so the index
        // knows its id only if it kept it through the damage.
        const size_t other = 0;
        v1::IngestRequest conflict;
        *conflict.add_events() = ToProto(w.events[other]);
        conflict.mutable_events(0)->set_value(w.events[other].fixed / 10'000.0 +
                                              1);
        grpc::Status answer = server.Ingest(conflict, response);
        Note(absl::StrCat(
            "  another payload under acknowledged id ", w.events[other].id,
            ": ",
            answer.ok()
                ? absl::StrCat("accepted, ", response.accepted(), " appended")
                : Describe(answer)));
        EXPECT_TRUE(answer.ok() ||
                    answer.error_code() == grpc::StatusCode::ALREADY_EXISTS)
            << Describe(answer);
        ASSERT_TRUE(ExactTotals(server, w, feeder.Sent()));
      }
    }
    // And it keeps counting.
    FeedAll(server, feeder, chunk_end(round + 2));
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ExactTotals(server, w, feeder.Sent()));
    EXPECT_TRUE(AlertsMatch(server, w, feeder.Sent()));
  }
  Note("final: " + AlertSummary(server));
  EXPECT_EQ(server.Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Stores, DerivedStoreDamageTest,
                         ::testing::Values("rollup", "alerts", "ingest"),
                         [](const auto& info) { return info.param; });

// 3. The log itself, damaged: it is the source of truth, so nothing can
// rebuild it. The server refuses to start, naming the log, or (for damage
// to bytes that do not hold records) comes up with exact totals; a refusal
// by the derived state (the log lost what it had reflected) is loud too.
// Never a wrong total.
TEST_F(CrashAndDamageTest, DamagedLogRefusesToOpenOrServesExactTotals) {
  const Workload w = MakeWorkload(rng(), 1000, 40);
  Feeder feeder(w);
  Server& origin = NewServer("origin");
  const size_t first = w.batch_count() * 4 / 10,
               second = w.batch_count() * 7 / 10;
  // Two runs, so the log holds table files and a write-ahead log.
  StartFresh(origin, w);
  if (HasFatalFailure()) return;
  FeedAll(origin, feeder, first);
  if (HasFatalFailure()) return;
  ASSERT_EQ(origin.Stop(), 0);
  ASSERT_TRUE(origin.StartServing());
  FeedAll(origin, feeder, second);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(ExactTotals(origin, w, feeder.Sent()));
  ASSERT_EQ(origin.Stop(), 0);
  const EventSet acked = feeder.Acked();

  struct Attempt {
    DamageKind kind;
    bool refusal_only;  // Damage that no open can survive.
  };
  std::vector<Attempt> attempts = {
      {DamageKind::kTruncate, false}, {DamageKind::kTruncate, false},
      {DamageKind::kFlipByte, false}, {DamageKind::kFlipByte, false},
      {DamageKind::kFlipByte, false}, {DamageKind::kDeleteCurrent, true},
      {DamageKind::kRemoveSst, true}};
  for (size_t i = 0; i < attempts.size(); ++i) {
    const Attempt& attempt = attempts[i];
    SCOPED_TRACE(
        absl::StrCat("log attempt ", i, ": ", DamageName(attempt.kind)));
    Server& server = NewServer(absl::StrCat("attempt-", i));
    fs::copy(origin.data(), server.data(), fs::copy_options::recursive);
    absl::StatusOr<std::string> done =
        Damage(server.data() / "log", attempt.kind, rng());
    ASSERT_TRUE(done.ok()) << done.status();
    server.Launch();
    if (HasFatalFailure()) return;
    const StartOutcome outcome = server.AwaitOutcome();
    Note(absl::StrCat("attempt ", i, ": ", *done, " -> ",
                      KindName(outcome.kind),
                      outcome.detail.empty() ? "" : ": " + outcome.detail));
    switch (outcome.kind) {
      case StartOutcome::kRefusedToStart:
        EXPECT_NE(outcome.exit_code, 0);
        EXPECT_TRUE(absl::StrContains(outcome.detail, "event log"))
            << outcome.detail;
        EXPECT_TRUE(
            absl::StrContains(outcome.detail, "is damaged") ||
            absl::StrContains(outcome.detail, "acknowledged records are gone"))
            << outcome.detail;
        break;
      case StartOutcome::kRefusingToServe:
        EXPECT_FALSE(attempt.refusal_only)
            << "the log should not have opened: " << outcome.detail;
        EXPECT_TRUE(NoWrongTotalWhileRefusing(server, w, acked));
        server.Stop();
        break;
      case StartOutcome::kServing: {
        EXPECT_FALSE(attempt.refusal_only) << "the log should not have opened";
        EXPECT_TRUE(ExactTotals(server, w, acked));
        EXPECT_TRUE(AlertsMatch(server, w, acked));
        // The log it opened keeps counting exactly.
        Feeder more = feeder;
        more.Feed(server, w.batch_count());
        EXPECT_TRUE(more.all_sent_acked()) << more.Summary();
        EXPECT_TRUE(ExactTotals(server, w, more.Sent()));
        EXPECT_EQ(server.Stop(), 0);
        break;
      }
      case StartOutcome::kNoOutcome:
        ADD_FAILURE() << outcome.detail;
        break;
    }
    fs::remove_all(server.dir());
  }

  // SIGKILL right after the last acknowledged batch is rolled up, then the
  // log's newest write-ahead log loses its tail (cut, or a byte flipped so
  // that recovery stops there): records acknowledged moments ago, not yet
  // in the END_OFFSETS mark nor in any committed position. Refuse, or count
  // every acknowledged event. Each on a fresh directory, fed now.
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(absl::StrCat("log tail attempt ", i));
    Server& server = NewServer(absl::StrCat("tail-", i));
    Feeder tail_feeder(w);
    StartFresh(server, w);
    if (HasFatalFailure()) return;
    FeedAll(server, tail_feeder, w.batch_count() / 2);
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ExactTotals(server, w, tail_feeder.Sent()));
    server.Crash();
    std::vector<fs::path> wals;
    for (const fs::path& f : DamageableFiles(server.data() / "log", false)) {
      if (absl::EndsWith(f.filename().string(), ".log")) wals.push_back(f);
    }
    ASSERT_FALSE(wals.empty());
    const fs::path wal = wals.back();
    const uint64_t size = fs::file_size(wal);
    const uint64_t at = size - std::min<uint64_t>(size, rng().Between(1, 2000));
    std::string done;
    if (i == 0) {
      fs::resize_file(wal, at);
      done = absl::StrCat("truncated log/", wal.filename().string(), " from ",
                          size, " to ", at, " bytes");
    } else {
      std::fstream file(wal, std::ios::in | std::ios::out | std::ios::binary);
      file.seekg(static_cast<std::streamoff>(at));
      const int byte = file.get();
      file.seekp(static_cast<std::streamoff>(at));
      file.put(static_cast<char>(byte ^ 0x5a));
      done = absl::StrCat("flipped byte ", at, " of ", size, " in log/",
                          wal.filename().string(), " (xor 0x5a)");
    }
    server.Launch();
    if (HasFatalFailure()) return;
    const StartOutcome outcome = server.AwaitOutcome();
    Note(absl::StrCat("tail attempt ", i, ": fed ", tail_feeder.Summary(),
                      "; SIGKILL once rolled up; ", done, " -> ",
                      KindName(outcome.kind),
                      outcome.detail.empty() ? "" : ": " + outcome.detail));
    switch (outcome.kind) {
      case StartOutcome::kRefusedToStart:
        EXPECT_NE(outcome.exit_code, 0);
        EXPECT_TRUE(absl::StrContains(outcome.detail, "event log"))
            << outcome.detail;
        break;
      case StartOutcome::kRefusingToServe:
        EXPECT_TRUE(NoWrongTotalWhileRefusing(server, w, tail_feeder.Acked()));
        server.Stop();
        break;
      case StartOutcome::kServing:
        // SERVING means caught up with the log as it was at the start:
        // every acknowledged event must be there at once.
        EXPECT_TRUE(AcknowledgedAreCounted(server, w, tail_feeder.Acked(),
                                           tail_feeder.Sent()))
            << "SERVING after losing acknowledged events";
        server.Stop();
        break;
      case StartOutcome::kNoOutcome:
        ADD_FAILURE() << outcome.detail;
        break;
    }
    fs::remove_all(server.dir());
  }
}

// 4. An older copy of the log directory (taken while stopped) restored under
// newer derived stores: the state reflects records the log no longer has.
// The server stays up, NOT_SERVING, and queries answer DATA_LOSS with the
// figures. A feed that keeps sending meanwhile (as feeds do) must not turn
// that into serving: not now, not after restarts.
TEST_F(CrashAndDamageTest, OlderLogRestoredUnderNewerStateRefusesToServe) {
  const Workload w = MakeWorkload(rng(), 1200, 30);
  Feeder feeder(w);
  Server& server = NewServer("restore");
  const size_t a_end = w.batch_count() / 4, b_end = w.batch_count() / 2;

  StartFresh(server, w);
  if (HasFatalFailure()) return;
  FeedAll(server, feeder, a_end);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(ExactTotals(server, w, feeder.Sent()));
  ASSERT_EQ(server.Stop(), 0);
  const fs::path old_log = server.dir() / "log-copy";
  fs::copy(server.data() / "log", old_log, fs::copy_options::recursive);
  Note(absl::StrCat("copied the log after ", a_end, " batches"));

  ASSERT_TRUE(server.StartServing());
  FeedAll(server, feeder, b_end);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(ExactTotals(server, w, feeder.Sent()));
  ASSERT_TRUE(AlertsMatch(server, w, feeder.Sent()));
  ASSERT_EQ(server.Stop(), 0);

  fs::remove_all(server.data() / "log");
  fs::rename(old_log, server.data() / "log");
  Note(absl::StrCat("restored the log of ", a_end, " batches under state of ",
                    b_end, " batches"));

  auto expect_refusal = [&](const std::string& when) {
    SCOPED_TRACE(when);
    server.Launch();
    if (HasFatalFailure()) return;
    const StartOutcome outcome = server.AwaitOutcome();
    Note(absl::StrCat(when, ": ", KindName(outcome.kind),
                      outcome.detail.empty() ? "" : ": " + outcome.detail));
    if (outcome.kind == StartOutcome::kRefusedToStart) {
      EXPECT_NE(outcome.exit_code, 0);
      return;
    }
    EXPECT_EQ(outcome.kind, StartOutcome::kRefusingToServe) << outcome.detail;
    if (outcome.kind == StartOutcome::kServing) {
      EXPECT_TRUE(ExactTotals(server, w, feeder.Acked(), absl::Seconds(2)))
          << "SERVING on a log that lost acknowledged records";
      return;
    }
    // It stays that way: never SERVING, never a wrong total, while it runs.
    const absl::Time until = absl::Now() + absl::Seconds(2);
    while (absl::Now() < until) {
      ::testing::AssertionResult fine =
          NoWrongTotalWhileRefusing(server, w, feeder.Acked());
      if (!fine) {
        ADD_FAILURE() << fine.message();
        Note(absl::StrCat(when, ": ", fine.message()));
        break;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  };

  expect_refusal("first start on the restored log");
  if (HasFatalFailure()) return;
  v1::RollupRecord record;
  grpc::Status status = server.GetRollup(KeyOf(kSales, 0, kMonths + 2), record);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS)
      << Describe(status);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "log ends at"))
      << status.error_message();
  EXPECT_EQ(server.Serving(), std::optional<bool>(false));

  // The feed does not look at health: it sends the rest of its events,
  // more batches than the log lost, so that every partition grows past
  // the position the state holds for it.
  feeder.Feed(server, w.batch_count());
  Note(absl::StrCat("a feed kept sending while refused: ", feeder.Summary(),
                    feeder.rejections().empty()
                        ? ""
                        : "; refusals: " + FirstLines(feeder.rejections(), 2)));
  EXPECT_TRUE(NoWrongTotalWhileRefusing(server, w, feeder.Acked()));
  ASSERT_EQ(server.Stop(), 0);

  expect_refusal("restart after the feed sent more");
  if (HasFatalFailure()) return;
  ASSERT_EQ(server.Stop(), 0);
  expect_refusal("another restart");
  if (HasFatalFailure()) return;
  server.Stop();
}

// 5. A restart after a quiet spell: the events on the log are older than
// ingest's back-pressure limit (max_rollup_lag, 10 s by default), rollup
// has applied and committed all of them, and new events must be accepted
// (at most after a short back-off), not refused for ever.
TEST_F(CrashAndDamageTest, RestartAfterAQuietSpellAcceptsNewEvents) {
  constexpr absl::Duration kQuiet = absl::Seconds(11);  // > max_rollup_lag
  const Workload w = MakeWorkload(rng(), 300, 30);
  Feeder feeder(w);
  Server& server = NewServer("quiet");
  StartFresh(server, w);
  if (HasFatalFailure()) return;
  FeedAll(server, feeder, w.batch_count() / 2);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(ExactTotals(server, w, feeder.Sent()));
  const absl::Time last_append = absl::Now();
  ASSERT_EQ(server.Stop(), 0);
  // Not an assertion: the condition under test is the age of the log.
  absl::SleepFor(last_append + kQuiet - absl::Now());
  ASSERT_TRUE(server.StartServing());
  feeder.Feed(server, w.batch_count());  // Retries back-pressure for 5 s.
  Note(absl::StrCat("restarted ", absl::FormatDuration(kQuiet),
                    " after the last append; then fed: ", feeder.Summary()));
  EXPECT_TRUE(feeder.all_sent_acked()) << feeder.Summary();
  EXPECT_TRUE(ExactTotals(server, w, feeder.Acked()));
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace strata
