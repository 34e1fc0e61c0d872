// `strata scorecard UNIT PERIOD`: the unit's Balanced Scorecard as a table.

#include "grpcpp/client_context.h"
#include "libs/grpcutil/status_conversion.h"
#include "libs/status/status_macros.h"
#include "services/strata/client_commands.h"
#include "services/strata/figure_format.h"
#include "services/strata/scorecard_table.h"
#include "strata/v1/scorecard_service.grpc.pb.h"

namespace strata::cli {

absl::Status Client::Scorecard(const std::string& unit_id,
                               const std::string& period_label) {
  v1::GetScorecardRequest request;
  request.set_unit_id(unit_id);
  ASSIGN_OR_RETURN(*request.mutable_period(), PeriodOfLabel(period_label));
  grpc::ClientContext context;
  v1::Scorecard card;
  RETURN_IF_ERROR(FromGrpcStatus(v1::ScorecardService::NewStub(channel_)
                                     ->GetScorecard(&context, request, &card)));
  out_ << FormatScorecard(card);
  return absl::OkStatus();
}

}  // namespace strata::cli
