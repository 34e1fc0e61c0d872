#pragma once

// `strata` as a client of a running server, for users without grpcurl.
// Each command prints a human-readable result to `out`.

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/channel.h"
#include "strata/v1/alert_service.grpc.pb.h"

namespace strata::cli {

struct ClientOptions {
  std::string unit;       // Subtree filter for alerts and tail.
  std::string by;         // Who acknowledges or resolves.
  std::string note;       // Acknowledge note.
  std::string action;     // Corrective action when resolving.
  std::string action_owner;  // Who carries it out.
  std::string action_due;    // By when: a date or an RFC 3339 time.
  int batch_size = 5000;  // Events per IngestStream message.
  bool include_resolved = false;
  std::string silence_rule;  // A rule's name; empty: every rule.
  std::string silence_for;   // How long a silence lasts: "2h".
  std::string reason;        // Why a silence.
  std::string as_of;         // Definitions as they stood then.
};

// What `strata watch` follows.
struct WatchOptions {
  std::vector<std::string> kpis;  // None: every KPI.
  std::string resume_token;
  bool from_beginning = false;
};

// What `strata query` asks for.
struct QueryOptions {
  std::string kpi;
  std::string unit;
  std::string period;  // A label; its shape tells its kind.
  std::string last;    // With a series: the last period's label.
  enum class Shape { kPoint, kSeries, kChildren, kUnitKpis };
  Shape shape = Shape::kPoint;
};

class Client {
 public:
  Client(std::shared_ptr<grpc::Channel> channel, ClientOptions options,
         std::ostream& out)
      : channel_(std::move(channel)), options_(std::move(options)), out_(out) {}

  // Definitions from a JSON file in the form of strata.v1.DefinitionBatch.
  absl::Status ApplyDefinitions(const std::string& path);
  absl::Status PrintDefinitions();
  // KPI events from a CSV file ("-" for standard input).
  absl::Status SendEvents(const std::string& path);
  // A point, a series, a drill-down or a unit's KPIs (query_commands.cc).
  absl::Status Query(const QueryOptions& query);
  // The unit's Balanced Scorecard for the period (scorecard_command.cc).
  absl::Status Scorecard(const std::string& unit_id,
                         const std::string& period_label);
  // Prints changed rollups as they come (the unit filter from options),
  // each with its resume token, until the server ends the stream.
  absl::Status Watch(const WatchOptions& watch);
  // Closing periods (closing_commands.cc); `by` says who.
  absl::Status ClosePeriod(const std::string& label);
  absl::Status ListPending();
  absl::Status DecidePending(const std::string& event_id, bool approve);
  absl::Status ListAlerts();
  // Prints alerts as they come until the server ends the stream.
  // Resumes after `resume_token` when given (else from now) and again
  // after every interruption until the stream fails for good.
  absl::Status TailAlerts(std::string resume_token);
  absl::Status Acknowledge(const std::string& alert_id);
  absl::Status Resolve(const std::string& alert_id);
  // Silences (silence_commands.cc): from now, for options' length.
  absl::Status Silence(const std::string& unit_id);
  absl::Status ListSilences(bool include_expired);
  absl::Status Unsilence(const std::string& silence_id);
  absl::Status Health();

 private:
  // Sends an acknowledge or resolve and prints the alert that results.
  template <typename Request>
  absl::Status ActOnAlert(grpc::Status (v1::AlertService::Stub::*call)(
                              grpc::ClientContext*, const Request&, v1::Alert*),
                          const Request& request);

  std::shared_ptr<grpc::Channel> channel_;
  const ClientOptions options_;
  std::ostream& out_;
};

}  // namespace strata::cli
