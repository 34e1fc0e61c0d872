// strata: the all-in-one server and its command-line client.
//
//   strata [serve] [--demo] [--data_dir=./strata-data] [--listen=127.0.0.1:7400]
//   strata demo-events > events.csv
//   strata send events.csv
//   strata apply definitions.json
//   strata query revenue acme 2026-11 [--series=2026-12 | --children]
//   strata query acme 2026-11 --unit-kpis
//   strata definitions [--as_of=2026-06-30]
//   strata alerts [--unit=retail] | tail [--unit=retail]
//   strata ack ALERT_ID --by=NAME [--note=...]
//   strata resolve ALERT_ID --by=NAME --action="what was done" \
//       [--owner=NAME --due=2026-12-20]
//   strata silence UNIT --for=2h --reason=TEXT --by=NAME [--rule=stale-feed]
//   strata silences [--all] | unsilence ID --by=NAME
//   strata health
//   strata rebuild [--data_dir=./strata-data]

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "libs/logging/log.h"
#include "services/alerts/alertmanager_flags.h"
#include "services/common/process.h"
#include "services/strata/all_in_one.h"
#include "services/strata/client_commands.h"
#include "services/strata/csv_events.h"
#include "services/strata/demo_organisation.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7400", "serve: gRPC listen address.");
ABSL_FLAG(bool, demo, false, "serve: load the demo organisation when absent.");
ABSL_FLAG(int, rollup_instances, 1,
          "serve, rebuild: rollup instances in this process (threads in "
          "place of processes); more than one folds through the scale-out "
          "stages (services/rollup/SCALE_OUT.md), each instance a member of "
          "their consumer groups on the embedded log. A data directory "
          "stays folded whole or scaled out.");
ABSL_FLAG(bool, rollup_scale_out, false,
          "serve, rebuild: fold through the scale-out stages even with one "
          "rollup instance.");
ABSL_FLAG(std::string, server, "127.0.0.1:7400", "client: server address.");
ABSL_FLAG(std::string, unit, "", "alerts, tail, watch: only this unit's subtree.");
ABSL_FLAG(bool, include_resolved, false, "alerts: list resolved ones too.");
ABSL_FLAG(std::string, by, "", "ack, resolve, close, approve, reject: who acts.");
ABSL_FLAG(std::string, note, "", "ack, approve, reject: a note.");
ABSL_FLAG(std::string, action, "", "resolve: the corrective action taken.");
ABSL_FLAG(std::string, owner, "", "resolve: who carries the action out.");
ABSL_FLAG(std::string, due, "",
          "resolve: by when (2026-12-20, due by that day's end in UTC, or "
          "an RFC 3339 time).");
ABSL_FLAG(std::string, series, "",
          "query: a series through this period, from the PERIOD argument.");
ABSL_FLAG(bool, children, false, "query: the unit's children, with shares.");
ABSL_FLAG(bool, unit_kpis, false, "query UNIT PERIOD: every KPI of the unit.");
ABSL_FLAG(std::vector<std::string>, kpis, {},
          "watch: only these KPIs (comma-separated).");
ABSL_FLAG(std::string, resume, "", "watch, tail: resume after this token.");
ABSL_FLAG(bool, from_beginning, false,
          "watch: from the start of the changelog, not its end.");
ABSL_FLAG(int, batch_size, 5000, "send: events per stream message.");
ABSL_FLAG(int, per_team_and_kpi, 20, "demo-events: events per team and KPI.");
ABSL_FLAG(std::string, rule, "",
          "silence: only this rule (stale-feed, worsening, ...); default all.");
ABSL_FLAG(std::string, for, "", "silence: how long, from now (2h, 90m).");
ABSL_FLAG(std::string, reason, "", "silence: why (a reorg, a migration).");
ABSL_FLAG(bool, all, false, "silences: expired ones too.");
ABSL_FLAG(std::string, as_of, "",
          "definitions: as they stood then, a date (its end, UTC) or an "
          "RFC 3339 time.");

namespace strata::cli {
namespace {

constexpr char kUsage[] = R"(strata: KPI rollups and variance alerts.

  strata [serve] [--demo]           run ingest, rollup and alerts in one process
    [--rollup_instances=N]          N rollup instances sharing the work
  strata rebuild                    rebuild every state store from the log
                                    (the server stopped), with progress
  strata demo-events                print demo KPI events (CSV) for this month
  strata send FILE.csv              send KPI events (CSV, '-' for stdin)
  strata apply FILE.json            apply definitions (strata.v1.DefinitionBatch)
  strata definitions [--as_of=DATE] print the definitions (as they stood then)
  strata query KPI UNIT PERIOD      a rollup; PERIOD is a label: 2026-11-25,
                                    2026-W48, 2026-11, 2026-Q4, 2026, FY2027,
                                    YTD2026-11 or QTD2026-11
    [--series=LAST]                 every period from PERIOD through LAST
    [--children]                    each child unit's figure and share
  strata query UNIT PERIOD --unit-kpis
                                    every KPI of the unit
  strata scorecard UNIT PERIOD      the unit's Balanced Scorecard: scores by
                                    perspective and objective, each KPI's
                                    actual, expected by now, target, trend
                                    and open alerts
  strata watch [--kpis=K1,K2] [--unit=U] [--from-beginning | --resume=TOKEN]
                                    changed rollups as they come
  strata close PERIOD --by=NAME     close a period: late events then wait
  strata pending                    closed periods and the events waiting
  strata approve ID --by=NAME       count a waiting event [--note=...]
  strata reject ID --by=NAME        never count it
  strata alerts [--unit=U]          list open alerts
  strata tail [--unit=U] [--resume=TOKEN]  stream alerts as they are
                                    raised, resuming across restarts
  strata ack ID --by=NAME           acknowledge an alert
  strata resolve ID --by=NAME --action=TEXT [--owner=NAME --due=DATE]
  strata silence UNIT --for=2h --reason=TEXT --by=NAME [--rule=RULE]
                                    silence a rule (default: all) on the
                                    unit's subtree; alerts are still kept
                                    and shown, marked, and do not escalate
  strata silences [--all]           list silences (--all: expired too)
  strata unsilence ID --by=NAME     end a silence now
  strata health                     is the server serving?)";

RollupShape RollupShapeFromFlags() {
  RollupShape shape;
  shape.instances = absl::GetFlag(FLAGS_rollup_instances);
  shape.scale_out =
      absl::GetFlag(FLAGS_rollup_scale_out) || shape.instances > 1;
  return shape;
}

absl::Status Run(const std::vector<std::string>& args) {
  const std::string command = args.empty() ? "serve" : args[0];
  auto want = [&](size_t n) -> absl::Status {
    if (args.size() == n + 1) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(command, " takes ", n, " argument(s); see --help"));
  };
  if (command == "serve") {
    AllInOneOptions options;
    options.log = ServerOptionsFromFlags(Deployment::kAllInOne);
    options.listen = absl::GetFlag(FLAGS_listen);
    options.demo = absl::GetFlag(FLAGS_demo);
    options.alertmanager = alerts::AlertmanagerOptionsFromFlags();
    options.rollup = RollupShapeFromFlags();
    return ServeAllInOne(options);
  }
  if (command == "rebuild") {
    return RebuildAllInOne(ServerOptionsFromFlags(Deployment::kAllInOne),
                           RollupShapeFromFlags(), std::cerr);
  }
  AllowTerminationSignals();  // A client command: Ctrl-C ends it.
  if (command == "demo-events") {
    std::cout << KpiEventCsvHeader() << "\n";
    for (const v1::KpiEvent& event :
         DemoEvents(absl::Now(), absl::GetFlag(FLAGS_per_team_and_kpi))) {
      std::cout << FormatKpiEventCsv(event) << "\n";
    }
    return absl::OkStatus();
  }
  ClientOptions options;
  options.unit = absl::GetFlag(FLAGS_unit);
  options.as_of = absl::GetFlag(FLAGS_as_of);
  options.by = absl::GetFlag(FLAGS_by);
  options.note = absl::GetFlag(FLAGS_note);
  options.action = absl::GetFlag(FLAGS_action);
  options.action_owner = absl::GetFlag(FLAGS_owner);
  options.action_due = absl::GetFlag(FLAGS_due);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.include_resolved = absl::GetFlag(FLAGS_include_resolved);
  options.silence_rule = absl::GetFlag(FLAGS_rule);
  options.silence_for = absl::GetFlag(FLAGS_for);
  options.reason = absl::GetFlag(FLAGS_reason);
  Client client(grpc::CreateChannel(absl::GetFlag(FLAGS_server),
                                    grpc::InsecureChannelCredentials()),
                options, std::cout);
  if (command == "send") {
    if (absl::Status s = want(1); !s.ok()) return s;
    return client.SendEvents(args[1]);
  }
  if (command == "apply") {
    if (absl::Status s = want(1); !s.ok()) return s;
    return client.ApplyDefinitions(args[1]);
  }
  if (command == "definitions") return client.PrintDefinitions();
  if (command == "query") {
    QueryOptions query;
    if (absl::GetFlag(FLAGS_unit_kpis)) {
      if (absl::Status s = want(2); !s.ok()) return s;
      query.unit = args[1];
      query.period = args[2];
      query.shape = QueryOptions::Shape::kUnitKpis;
      return client.Query(query);
    }
    if (absl::Status s = want(3); !s.ok()) return s;
    query.kpi = args[1];
    query.unit = args[2];
    query.period = args[3];
    query.last = absl::GetFlag(FLAGS_series);
    if (!query.last.empty()) {
      query.shape = QueryOptions::Shape::kSeries;
    } else if (absl::GetFlag(FLAGS_children)) {
      query.shape = QueryOptions::Shape::kChildren;
    }
    return client.Query(query);
  }
  if (command == "scorecard") {
    if (absl::Status s = want(2); !s.ok()) return s;
    return client.Scorecard(args[1], args[2]);
  }
  if (command == "close") {
    if (absl::Status s = want(1); !s.ok()) return s;
    return client.ClosePeriod(args[1]);
  }
  if (command == "pending") return client.ListPending();
  if (command == "approve" || command == "reject") {
    if (absl::Status s = want(1); !s.ok()) return s;
    return client.DecidePending(args[1], command == "approve");
  }
  if (command == "watch") {
    WatchOptions watch;
    watch.kpis = absl::GetFlag(FLAGS_kpis);
    watch.resume_token = absl::GetFlag(FLAGS_resume);
    watch.from_beginning = absl::GetFlag(FLAGS_from_beginning);
    return client.Watch(watch);
  }
  if (command == "alerts") return client.ListAlerts();
  if (command == "tail") return client.TailAlerts(absl::GetFlag(FLAGS_resume));
  if (command == "ack") {
    if (absl::Status s = want(1); !s.ok()) return s;
    return client.Acknowledge(args[1]);
  }
  if (command == "resolve") {
    if (absl::Status s = want(1); !s.ok()) return s;
    return client.Resolve(args[1]);
  }
  if (command == "silence") {
    if (absl::Status s = want(1); !s.ok()) return s;
    return client.Silence(args[1]);
  }
  if (command == "silences") {
    return client.ListSilences(absl::GetFlag(FLAGS_all));
  }
  if (command == "unsilence") {
    if (absl::Status s = want(1); !s.ok()) return s;
    return client.Unsilence(args[1]);
  }
  if (command == "health") return client.Health();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown command '", command, "'\n", kUsage));
}

}  // namespace
}  // namespace strata::cli

int main(int argc, char** argv) {
  return strata::RunMain(argc, argv, strata::cli::kUsage, strata::cli::Run);
}
