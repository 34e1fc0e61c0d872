// `strata silence`, `strata silences`, `strata unsilence`.

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "libs/grpcutil/status_conversion.h"
#include "libs/status/quote.h"
#include "libs/status/status_macros.h"
#include "libs/streams/timestamps.h"
#include "services/strata/client_commands.h"
#include "services/strata/figure_format.h"
#include "strata/v1/alert_service.grpc.pb.h"

namespace strata::cli {
namespace {

// "stale-feed", "STALE_FEED" or "ALERT_RULE_STALE_FEED"; empty: every rule.
absl::StatusOr<v1::AlertRule> ParseRule(const std::string& name) {
  if (name.empty()) return v1::ALERT_RULE_UNSPECIFIED;
  std::string upper = absl::AsciiStrToUpper(absl::StrReplaceAll(name, {{"-", "_"}}));
  if (upper.rfind("ALERT_RULE_", 0) != 0) upper = "ALERT_RULE_" + upper;
  v1::AlertRule rule;
  if (!v1::AlertRule_Parse(upper, &rule) ||
      rule == v1::ALERT_RULE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--rule: unknown rule ", Quoted(name),
        "; one of status-change, worsening, no-corrective-action, "
        "projected-miss, stale-feed, action-overdue"));
  }
  return rule;
}

std::string FormatSilence(const v1::Silence& silence) {
  std::string rule = "every rule";
  if (silence.rule() != v1::ALERT_RULE_UNSPECIFIED) {
    rule = absl::AsciiStrToLower(
        v1::AlertRule_Name(silence.rule()).substr(sizeof("ALERT_RULE_") - 1));
  }
  std::string line = absl::StrCat(
      silence.silence_id(), "  ", silence.unit_id(), " and below, ", rule,
      ", ", FormatUtcMinute(silence.starts()), " to ", FormatUtcMinute(silence.ends()), "  by ",
      silence.created_by(), ": ", silence.reason());
  if (!silence.expired_by().empty()) {
    absl::StrAppend(&line, "  (ended early by ", silence.expired_by(), ")");
  }
  return line;
}

}  // namespace

absl::Status Client::Silence(const std::string& unit_id) {
  ASSIGN_OR_RETURN(v1::AlertRule rule, ParseRule(options_.silence_rule));
  absl::Duration length;
  if (!absl::ParseDuration(options_.silence_for, &length) ||
      length <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--for: ", Quoted(options_.silence_for),
                     " is not a length of time (2h, 3d as 72h, 90m)"));
  }
  v1::CreateSilenceRequest request;
  request.set_unit_id(unit_id);
  request.set_rule(rule);
  *request.mutable_ends() = ToTimestamp(absl::Now() + length);
  request.set_reason(options_.reason);
  request.set_created_by(options_.by);
  auto stub = v1::AlertService::NewStub(channel_);
  grpc::ClientContext context;
  v1::Silence silence;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub->CreateSilence(&context, request, &silence)));
  out_ << FormatSilence(silence) << "\n";
  return absl::OkStatus();
}

absl::Status Client::ListSilences(bool include_expired) {
  v1::ListSilencesRequest request;
  request.set_include_expired(include_expired);
  auto stub = v1::AlertService::NewStub(channel_);
  grpc::ClientContext context;
  v1::ListSilencesResponse response;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub->ListSilences(&context, request, &response)));
  for (const v1::Silence& silence : response.silences()) {
    out_ << FormatSilence(silence) << "\n";
  }
  if (response.silences().empty()) out_ << "no silences\n";
  return absl::OkStatus();
}

absl::Status Client::Unsilence(const std::string& silence_id) {
  v1::ExpireSilenceRequest request;
  request.set_silence_id(silence_id);
  request.set_expired_by(options_.by);
  auto stub = v1::AlertService::NewStub(channel_);
  grpc::ClientContext context;
  v1::Silence silence;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub->ExpireSilence(&context, request, &silence)));
  out_ << FormatSilence(silence) << "\n";
  return absl::OkStatus();
}

}  // namespace strata::cli
