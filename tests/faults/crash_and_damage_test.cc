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
#include "tests/faults/feeder.h"
#include "tests/faults/oracle_checks.h"
#include "tests/faults/strata_client.h"
#include "tests/faults/workload.h"
#include "tests/harness/child_process.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using ::strata::testing::ChildProcess;
using namespace ::strata::faults;  // The workload, its oracle and checks.

// How long a start may take to reach SERVING or a refusal.
constexpr absl::Duration kOutcomeTimeout = absl::Seconds(20);

std::string ReadWholeFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
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
      absl::StatusOr<bool> serving = client_.CheckServing(absl::Seconds(1));
      if (serving.ok() && *serving) return {StartOutcome::kServing, "", 0};
      last = serving.ok() ? "NOT_SERVING" : serving.status().ToString();
      v1::RollupRecord record;
      grpc::Status rollup =
          client_.GetRollup(KeyOf(kSales, 0, kMonths + 2), record);
      if (IsRefusal(rollup)) {
        return {StartOutcome::kRefusingToServe,
                "rollup query: " + Describe(rollup), 0};
      }
      v1::ListAlertsResponse alerts;
      grpc::Status listed = client_.ListAlerts(alerts);
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

  // Calls to the server as it runs now.
  StrataClient& client() { return client_; }

  std::optional<bool> Serving() {
    absl::StatusOr<bool> serving = client_.CheckServing(absl::Seconds(2));
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
    client_.Connect({port, port, port});
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
  StrataClient client_;
};

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
  grpc::Status status = server.client().AllCells(got);
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
    grpc::Status applied = server.client().ApplyDefinitions(Definitions(w));
    ASSERT_TRUE(applied.ok()) << Describe(applied);
  }

  // Feeds up to batch `until` and requires every batch acknowledged.
  void FeedAll(Server& server, Feeder& feeder, size_t until) {
    feeder.Feed(server.client(), until);
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
          AcknowledgedAreCounted(server.client(), w, feeder.Acked(), feeder.Sent()));
    }
    // Resend what is uncertain; then the totals are exact.
    feeder.Feed(server.client(), feeder.next());
    ASSERT_TRUE(feeder.rejections().empty()) << FirstLines(feeder.rejections());
    ASSERT_TRUE(feeder.all_sent_acked()) << feeder.Summary();
    ASSERT_TRUE(ExactTotals(server.client(), w, feeder.Sent()));

    // Feed on a thread; SIGKILL after a seeded delay.
    const int delay_ms = static_cast<int>(rng().Between(10, 300));
    const uint64_t pacing_seed = rng().Next();
    std::atomic<bool> stop{false};
    std::thread feeding([&] {
      feeder.Feed(server.client(), w.batch_count(), {2, 10}, pacing_seed, &stop);
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
  ASSERT_TRUE(AcknowledgedAreCounted(server.client(), w, feeder.Acked(), feeder.Sent()));
  FeedAll(server, feeder, w.batch_count());
  if (HasFatalFailure()) return;
  const EventSet all(w.events.size(), 1);
  ASSERT_TRUE(ExactTotals(server.client(), w, all));
  EXPECT_TRUE(AlertsMatch(server.client(), w, all));
  EXPECT_EQ(server.Stop(), 0);
  // And again after a clean restart.
  ASSERT_TRUE(server.StartServing());
  EXPECT_TRUE(ExactTotals(server.client(), w, all));
  EXPECT_TRUE(AlertsMatch(server.client(), w, all));
  Note("final: exact after all kills and after a clean restart; " +
       AlertSummary(server.client()));
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
  ASSERT_TRUE(ExactTotals(server.client(), w, feeder.Sent()));
  // A clean restart turns the first writes into table files.
  ASSERT_EQ(server.Stop(), 0);
  ASSERT_TRUE(server.StartServing());
  FeedAll(server, feeder, chunk_end(1));
  if (HasFatalFailure()) return;
  ASSERT_TRUE(ExactTotals(server.client(), w, feeder.Sent()));

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
    ASSERT_TRUE(ExactTotals(server.client(), w, feeder.Sent()));
    EXPECT_TRUE(AlertsMatch(server.client(), w, feeder.Sent()));
    if (store == "ingest") {
      // The index may have lost ids: a resend of acknowledged events is
      // still counted once.
      v1::IngestRequest again;
      const auto [b, e] = w.batches[1 + rng().Below(feeder.next() - 1)];
      for (size_t i = b; i < e; ++i) *again.add_events() = ToProto(w.events[i]);
      v1::IngestResponse response;
      grpc::Status resent = server.client().Ingest(again, response);
      ASSERT_TRUE(resent.ok()) << Describe(resent);
      Note(absl::StrCat("  resent events ", b, "..", e - 1, ": ",
                        response.accepted(), " appended again"));
      ASSERT_TRUE(ExactTotals(server.client(), w, feeder.Sent()));
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
        grpc::Status answer = server.client().Ingest(conflict, response);
        Note(absl::StrCat(
            "  another payload under acknowledged id ", w.events[other].id,
            ": ",
            answer.ok()
                ? absl::StrCat("accepted, ", response.accepted(), " appended")
                : Describe(answer)));
        EXPECT_TRUE(answer.ok() ||
                    answer.error_code() == grpc::StatusCode::ALREADY_EXISTS)
            << Describe(answer);
        ASSERT_TRUE(ExactTotals(server.client(), w, feeder.Sent()));
      }
    }
    // And it keeps counting.
    FeedAll(server, feeder, chunk_end(round + 2));
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ExactTotals(server.client(), w, feeder.Sent()));
    EXPECT_TRUE(AlertsMatch(server.client(), w, feeder.Sent()));
  }
  Note("final: " + AlertSummary(server.client()));
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
  ASSERT_TRUE(ExactTotals(origin.client(), w, feeder.Sent()));
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
        EXPECT_TRUE(ExactTotals(server.client(), w, acked));
        EXPECT_TRUE(AlertsMatch(server.client(), w, acked));
        // The log it opened keeps counting exactly.
        Feeder more = feeder;
        more.Feed(server.client(), w.batch_count());
        EXPECT_TRUE(more.all_sent_acked()) << more.Summary();
        EXPECT_TRUE(ExactTotals(server.client(), w, more.Sent()));
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
    ASSERT_TRUE(ExactTotals(server.client(), w, tail_feeder.Sent()));
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
        EXPECT_TRUE(AcknowledgedAreCounted(server.client(), w, tail_feeder.Acked(),
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
  ASSERT_TRUE(ExactTotals(server.client(), w, feeder.Sent()));
  ASSERT_EQ(server.Stop(), 0);
  const fs::path old_log = server.dir() / "log-copy";
  fs::copy(server.data() / "log", old_log, fs::copy_options::recursive);
  Note(absl::StrCat("copied the log after ", a_end, " batches"));

  ASSERT_TRUE(server.StartServing());
  FeedAll(server, feeder, b_end);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(ExactTotals(server.client(), w, feeder.Sent()));
  ASSERT_TRUE(AlertsMatch(server.client(), w, feeder.Sent()));
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
      EXPECT_TRUE(ExactTotals(server.client(), w, feeder.Acked(), absl::Seconds(2)))
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
  grpc::Status status = server.client().GetRollup(KeyOf(kSales, 0, kMonths + 2), record);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS)
      << Describe(status);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "log ends at"))
      << status.error_message();
  EXPECT_EQ(server.Serving(), std::optional<bool>(false));

  // The feed does not look at health: it sends the rest of its events,
  // more batches than the log lost, so that every partition grows past
  // the position the state holds for it.
  feeder.Feed(server.client(), w.batch_count());
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
  ASSERT_TRUE(ExactTotals(server.client(), w, feeder.Sent()));
  const absl::Time last_append = absl::Now();
  ASSERT_EQ(server.Stop(), 0);
  // Not an assertion: the condition under test is the age of the log.
  absl::SleepFor(last_append + kQuiet - absl::Now());
  ASSERT_TRUE(server.StartServing());
  feeder.Feed(server.client(), w.batch_count());  // Retries back-pressure for 5 s.
  Note(absl::StrCat("restarted ", absl::FormatDuration(kQuiet),
                    " after the last append; then fed: ", feeder.Summary()));
  EXPECT_TRUE(feeder.all_sent_acked()) << feeder.Summary();
  EXPECT_TRUE(ExactTotals(server.client(), w, feeder.Acked()));
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace strata
