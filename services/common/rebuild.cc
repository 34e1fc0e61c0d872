// Rebuilding every state store from the log: `strata rebuild` and the
// split services' --rebuild (declared in process.h).

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/storage/state_db.h"
#include "libs/streams/topics.h"
#include "services/common/process.h"

namespace strata {
namespace {

// Records replayed and to replay, summed over the modules that report them.
std::pair<int64_t, int64_t> ReplayCounts(
    const std::vector<std::unique_ptr<ServiceModule>>& modules) {
  std::pair<int64_t, int64_t> counts{0, 0};
  for (const auto& module : modules) {
    const std::map<std::string, int64_t> gauges = module->Gauges();
    if (auto it = gauges.find("replayed_records"); it != gauges.end()) {
      counts.first += it->second;
    }
    if (auto it = gauges.find("records_to_replay"); it != gauges.end()) {
      counts.second += it->second;
    }
  }
  return counts;
}

std::string ProgressBar(int64_t done, int64_t total) {
  constexpr int kWidth = 40;
  const double fraction =
      total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(fraction * kWidth);
  return absl::StrFormat("\r[%s%s] %3d%%  %d of %d records",
                         std::string(filled, '#'),
                         std::string(kWidth - filled, ' '),
                         static_cast<int>(fraction * 100), done, total);
}

}  // namespace

absl::Status PrepareRebuild(const ServerOptions& options,
                            eventlog::EventLog& log) {
  for (const auto& [topic, partitions] : DefaultTopics()) {
    ASSIGN_OR_RETURN(int32_t count, log.PartitionCount(topic));
    for (int32_t p = 0; p < count; ++p) {
      ASSIGN_OR_RETURN(int64_t start, log.StartOffset({topic, p}));
      if (start != 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "cannot rebuild: ", topic, "/", p, " starts at offset ", start,
            ", so ", start,
            " records were deleted (retention); rebuilt state would hold "
            "partial totals. Keep the stores as they are, or restore the "
            "log from a backup that starts at offset 0"));
      }
    }
  }
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(options.data_dir, ec)) {
    const std::string name = entry.path().filename().string();
    // The embedded log is the source, not derived; set-aside copies stay.
    if (!entry.is_directory() || name == "log" ||
        absl::EndsWith(name, ".discarded")) {
      continue;
    }
    ASSIGN_OR_RETURN(bool marked,
                     StateDb::RequestRebuild(entry.path().string(),
                                             "rebuild requested"));
    if (marked) {
      STRATA_LOG(INFO) << "rebuilding " << entry.path().string()
                       << " from the log";
    }
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat(options.data_dir, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status RebuildStores(const std::string& name, const ServerOptions& options,
                           const std::vector<ModuleFactory>& factories,
                           std::ostream& progress) {
  const absl::Time began = absl::Now();
  ASSIGN_OR_RETURN(std::unique_ptr<eventlog::EventLog> log,
                   OpenEventLog(options));
  RETURN_IF_ERROR(PrepareRebuild(options, *log));
  ASSIGN_OR_RETURN(std::unique_ptr<DefinitionsFollower> definitions,
                   DefinitionsFollower::Create(*log, name));
  HealthReport damage(absl::OkStatus());
  const ModuleContext context{*log, *definitions, options, damage, nullptr};
  ASSIGN_OR_RETURN(std::vector<std::unique_ptr<ServiceModule>> modules,
                   CreateModules(context, factories));
  definitions->Start();
  RETURN_IF_ERROR(definitions->CatchUp(absl::Minutes(10)));
  for (auto& module : modules) RETURN_IF_ERROR(module->Start());
  absl::Status failed;
  while (true) {
    bool caught_up = true;
    for (auto& module : modules) {
      const absl::Status health = module->Health();
      if (absl::IsUnavailable(health)) {
        caught_up = false;
      } else if (!health.ok()) {
        failed = absl::Status(health.code(), absl::StrCat(module->name(), ": ",
                                                          health.message()));
      }
    }
    const auto [done, total] = ReplayCounts(modules);
    progress << ProgressBar(done, total) << std::flush;
    if (caught_up || !failed.ok()) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  progress << "\n";
  definitions->Stop();
  for (auto& module : modules) module->Stop();
  RETURN_IF_ERROR(failed);
  const auto [done, total] = ReplayCounts(modules);
  progress << absl::StrFormat("rebuilt %d stores from %d log records in %s\n",
                              modules.size(), total,
                              absl::FormatDuration(absl::Trunc(
                                  absl::Now() - began, absl::Milliseconds(1))));
  for (auto& module : modules) {
    const std::map<std::string, int64_t> gauges = module->Gauges();
    auto it = gauges.find("replayed_records");
    if (it == gauges.end()) continue;  // Keeps nothing it replays.
    progress << "  " << module->name() << ": " << it->second
             << " log records replayed";
    if (auto applied = gauges.find("events_applied"); applied != gauges.end()) {
      progress << ", " << applied->second << " events applied";
    }
    progress << "\n";
  }
  return absl::OkStatus();
}

}  // namespace strata
