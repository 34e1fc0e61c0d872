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

// Marks every state store in `dir`, at any depth (a scaled-out rollup
// keeps one per stage, and one set per instance of the process).
absl::Status MarkStoresForRebuild(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    // The embedded log is the source, not derived; set-aside copies stay.
    if (entry.is_symlink() || !entry.is_directory() || name == "log" ||
        absl::EndsWith(name, ".discarded")) {
      continue;
    }
    ASSIGN_OR_RETURN(bool marked,
                     StateDb::RequestRebuild(entry.path().string(),
                                             "rebuild requested"));
    if (marked) {
      STRATA_LOG(INFO) << "rebuilding " << entry.path().string()
                       << " from the log";
    } else {
      RETURN_IF_ERROR(MarkStoresForRebuild(entry.path()));
    }
  }
  if (ec) return absl::InternalError(absl::StrCat(dir.string(), ": ", ec.message()));
  return absl::OkStatus();
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
  return MarkStoresForRebuild(options.data_dir);
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
  const ModuleContext context{*log, *definitions, options, damage, nullptr,
                              nullptr};
  ASSIGN_OR_RETURN(std::vector<std::unique_ptr<ServiceModule>> modules,
                   CreateModules(context, factories));
  definitions->Start();
  RETURN_IF_ERROR(definitions->CatchUp(absl::Minutes(10)));
  for (auto& module : modules) RETURN_IF_ERROR(module->Start());
  absl::Status failed;
  // Twice in a row: a group may still be moving partitions between
  // instances that each said so a moment ago.
  int caught_up_checks = 0;
  while (caught_up_checks < 2 && failed.ok()) {
    bool caught_up = true;
    for (auto& module : modules) {
      const absl::Status health = module->CaughtUp();
      if (absl::IsUnavailable(health)) {
        caught_up = false;
      } else if (!health.ok()) {
        failed = absl::Status(health.code(), absl::StrCat(module->name(), ": ",
                                                          health.message()));
      }
    }
    caught_up_checks = caught_up ? caught_up_checks + 1 : 0;
    const auto [done, total] = ReplayCounts(modules);
    progress << ProgressBar(done, total) << std::flush;
    if (TerminationRequested(absl::Milliseconds(200))) {
      failed = absl::CancelledError(
          "rebuild: interrupted; the stores not rebuilt yet are rebuilt when "
          "they next open");
    }
  }
  progress << "\n";
  // What they hold caught up, before they hand it over as they stop.
  std::vector<std::map<std::string, int64_t>> gauges;
  for (auto& module : modules) gauges.push_back(module->Gauges());
  const auto [done, total] = ReplayCounts(modules);
  definitions->Stop();
  for (auto& module : modules) module->Stop();
  RETURN_IF_ERROR(failed);
  progress << absl::StrFormat(
      "rebuilt the stores of %d services from %d log records in %s\n",
      modules.size(), total,
      absl::FormatDuration(
          absl::Trunc(absl::Now() - began, absl::Milliseconds(1))));
  for (size_t m = 0; m < modules.size(); ++m) {
    const std::map<std::string, int64_t>& held = gauges[m];
    const std::string& name = modules[m]->name();
    if (auto parts = held.find("fold_parts_read"); parts != held.end()) {
      // A scaled-out rollup: its stages restore parts as the groups assign
      // them (again when they move), so event counts say how often, not
      // what the figures hold.
      auto merged = held.find("partials_partitions_merged");
      progress << "  " << name << ": holds " << parts->second
               << " fold parts and "
               << (merged != held.end() ? merged->second : 0)
               << " merge partitions, caught up\n";
      continue;
    }
    auto it = held.find("replayed_records");
    if (it == held.end()) continue;  // Keeps nothing it replays.
    progress << "  " << name << ": " << it->second << " log records replayed";
    if (auto applied = held.find("events_applied"); applied != held.end()) {
      progress << ", " << applied->second << " events applied";
    }
    progress << "\n";
  }
  return absl::OkStatus();
}

}  // namespace strata
