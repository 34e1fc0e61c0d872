#include "services/strata/client_commands.h"
#include "services/strata/figure_format.h"

#include <fstream>
#include <map>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "libs/definitions/definitions.h"
#include "libs/grpcutil/health_client.h"
#include "libs/grpcutil/status_conversion.h"
#include "libs/status/status_macros.h"
#include "libs/status/quote.h"
#include "libs/streams/cell_key.h"
#include "libs/streams/timestamps.h"
#include "services/strata/csv_events.h"
#include "services/strata/json_locator.h"
#include "strata/v1/admin_service.grpc.pb.h"
#include "strata/v1/alert_service.grpc.pb.h"
#include "strata/v1/ingest_service.grpc.pb.h"
#include "strata/v1/status_service.grpc.pb.h"

namespace strata::cli {
namespace {

// A flag's date ("2026-12-20": the last instant of that day, UTC) or
// RFC 3339 time.
absl::StatusOr<absl::Time> ParseDayEndOrTime(const std::string& flag,
                                             const std::string& text) {
  absl::Time time;
  std::string error;
  if (absl::ParseTime("%Y-%m-%d", text, &time, &error)) {
    return time + absl::Hours(24) - absl::Nanoseconds(1);
  }
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return time;
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, ": ", Quoted(text),
                   " is neither a date (2026-12-20) nor an RFC 3339 time"));
}

absl::Status ReadFile(const std::string& path, std::string& contents) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  contents = buffer.str();
  return absl::OkStatus();
}

}  // namespace

absl::Status Client::ApplyDefinitions(const std::string& path) {
  std::string json;
  RETURN_IF_ERROR(ReadFile(path, json));
  absl::StatusOr<JsonLocator> locator = JsonLocator::Parse(json);
  if (!locator.ok()) {
    // "line 7: ..." as compilers put it: "file.json:7: ...".
    return absl::InvalidArgumentError(absl::StrCat(
        path, ":", absl::StripPrefix(locator.status().message(), "line ")));
  }
  v1::DefinitionBatch batch;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &batch);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", parsed.message().as_string()));
  }
  auto stub = v1::AdminService::NewStub(channel_);
  // Checked here against the server's definitions first, so that an error
  // names the file's line and nothing is sent.
  {
    grpc::ClientContext context;
    v1::DefinitionBatch current;
    RETURN_IF_ERROR(FromGrpcStatus(
        stub->GetDefinitions(&context, v1::GetDefinitionsRequest(), &current)));
    absl::StatusOr<Definitions> now = Definitions().WithBatch(current);
    if (now.ok()) {
      absl::Status checked = now->WithBatch(batch).status();
      if (!checked.ok()) {
        const absl::string_view message = checked.message();
        const std::optional<int> line =
            locator->LineOf(message.substr(0, message.find(':')));
        return absl::Status(
            checked.code(),
            absl::StrCat(path, line ? absl::StrCat(":", *line) : "", ": ",
                         message, " (nothing was applied)"));
      }
    }
  }
  grpc::ClientContext context;
  v1::ApplyDefinitionsResponse response;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub->ApplyDefinitions(&context, batch, &response)));
  out_ << "applied " << response.applied() << " definitions\n";
  return absl::OkStatus();
}

absl::Status Client::PrintDefinitions() {
  auto stub = v1::AdminService::NewStub(channel_);
  grpc::ClientContext context;
  v1::GetDefinitionsRequest request;
  if (!options_.as_of.empty()) {
    ASSIGN_OR_RETURN(absl::Time as_of, ParseDayEndOrTime("as_of", options_.as_of));
    *request.mutable_as_of() = ToTimestamp(as_of);
  }
  v1::DefinitionBatch batch;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub->GetDefinitions(&context, request, &batch)));
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(batch, &json, print);
  out_ << json;
  return absl::OkStatus();
}

absl::Status Client::SendEvents(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
    in = &file;
  }
  ASSIGN_OR_RETURN(std::vector<v1::KpiEvent> events, ParseKpiEventsCsv(*in));
  auto stub = v1::IngestService::NewStub(channel_);
  int64_t accepted = 0;
  v1::IngestRequest request;
  for (size_t i = 0; i < events.size(); ++i) {
    *request.add_events() = std::move(events[i]);
    if (request.events_size() < options_.batch_size && i + 1 < events.size()) {
      continue;
    }
    // One call per batch, so that a refusal names the batch and a retry
    // resends only it (event ids make a resend harmless).
    absl::Duration backoff = absl::Milliseconds(200);
    while (true) {
      grpc::ClientContext context;
      v1::IngestResponse response;
      const absl::Status status =
          FromGrpcStatus(stub->Ingest(&context, request, &response));
      if (status.ok()) {
        accepted += response.accepted();
        break;
      }
      // Back-pressure and passing trouble: wait and send the batch again.
      if (!absl::IsResourceExhausted(status) && !absl::IsUnavailable(status) &&
          !absl::IsAborted(status)) {
        return absl::Status(
            status.code(),
            absl::StrCat("events from line ", i + 3 - request.events_size(),
                         " on (", accepted, " accepted before): ",
                         status.message()));
      }
      std::cerr << "strata: " << status << "; retrying in "
                << absl::FormatDuration(backoff) << "\n";
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(10));
    }
    request.Clear();
  }
  out_ << "accepted " << accepted << " events\n";
  return absl::OkStatus();
}

absl::Status Client::ListAlerts() {
  auto stub = v1::AlertService::NewStub(channel_);
  grpc::ClientContext context;
  v1::ListAlertsRequest request;
  request.set_unit_id(options_.unit);
  request.set_include_resolved(options_.include_resolved);
  v1::ListAlertsResponse response;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub->ListAlerts(&context, request, &response)));
  for (const v1::Alert& alert : response.alerts())
    out_ << FormatAlert(alert) << "\n";
  out_ << response.alerts_size() << " alerts\n";
  return absl::OkStatus();
}

absl::Status Client::TailAlerts(std::string resume_token) {
  auto stub = v1::AlertService::NewStub(channel_);
  bool announced = false;
  while (true) {
    grpc::ClientContext context;
    v1::SubscribeAlertsRequest request;
    request.set_unit_id(options_.unit);
    request.set_resume_token(resume_token);
    auto reader = stub->SubscribeAlerts(&context, request);
    reader->WaitForInitialMetadata();
    if (!announced) {
      out_ << "subscribed to alerts"
           << (options_.unit.empty() ? "" : " under " + options_.unit)
           << std::endl;
      announced = true;
    }
    v1::Alert alert;
    while (reader->Read(&alert)) {
      out_ << FormatAlert(alert) << std::endl;
      resume_token = alert.resume_token();
    }
    const grpc::Status status = reader->Finish();
    // A server restarting (or catching up) is waited for; the stream
    // resumes after the last alert printed, missing and repeating nothing.
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      return FromGrpcStatus(status);
    }
    std::cerr << "alerts stream: " << status.error_message()
              << "; resuming" << (resume_token.empty() ? "" : " after ")
              << resume_token << std::endl;
    absl::SleepFor(absl::Seconds(1));
  }
}

absl::Status Client::Acknowledge(const std::string& alert_id) {
  v1::AcknowledgeAlertRequest request;
  request.set_alert_id(alert_id);
  request.set_acknowledged_by(options_.by);
  request.set_note(options_.note);
  return ActOnAlert(&v1::AlertService::Stub::AcknowledgeAlert, request);
}

absl::Status Client::Resolve(const std::string& alert_id) {
  v1::ResolveAlertRequest request;
  request.set_alert_id(alert_id);
  request.set_resolved_by(options_.by);
  request.set_corrective_action(options_.action);
  request.set_action_owner(options_.action_owner);
  if (!options_.action_due.empty()) {
    ASSIGN_OR_RETURN(absl::Time due,
                     ParseDayEndOrTime("due", options_.action_due));
    // A date's end to the second, as due dates are shown.
    *request.mutable_action_due() =
        ToTimestamp(absl::FromUnixSeconds(absl::ToUnixSeconds(due)));
  }
  return ActOnAlert(&v1::AlertService::Stub::ResolveAlert, request);
}

template <typename Request>
absl::Status Client::ActOnAlert(
    grpc::Status (v1::AlertService::Stub::*call)(grpc::ClientContext*,
                                                 const Request&, v1::Alert*),
    const Request& request) {
  auto stub = v1::AlertService::NewStub(channel_);
  grpc::ClientContext context;
  v1::Alert alert;
  RETURN_IF_ERROR(FromGrpcStatus(((*stub).*call)(&context, request, &alert)));
  out_ << FormatAlert(alert) << "\n";
  return absl::OkStatus();
}

absl::Status Client::Health() {
  ASSIGN_OR_RETURN(bool serving, CheckServing(channel_, absl::Seconds(5)));
  out_ << (serving ? "SERVING" : "NOT_SERVING") << "\n";
  // Why, module by module, with what each measures.
  auto stub = v1::StatusService::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::ServerStatus status;
  if (stub->GetStatus(&context, v1::GetStatusRequest(), &status).ok()) {
    for (const v1::ModuleStatus& module : status.modules()) {
      out_ << "  " << module.module() << ": " << module.code();
      if (!module.message().empty()) out_ << ": " << module.message();
      std::map<std::string, int64_t> gauges(module.gauges().begin(),
                                            module.gauges().end());
      for (const auto& [name, value] : gauges) {
        out_ << "\n    " << name << " " << value;
      }
      out_ << "\n";
    }
  }
  return serving ? absl::OkStatus() : absl::UnavailableError("not serving");
}

}  // namespace strata::cli
