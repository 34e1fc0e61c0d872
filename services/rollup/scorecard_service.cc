#include "services/rollup/scorecard_service.h"

#include <memory>


#include "libs/grpcutil/raw_messages.h"

namespace strata::rollup {

grpc::ServerUnaryReactor* ScorecardService::GetScorecard(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto request = std::make_shared<v1::GetScorecardRequest>();
  absl::Status checked = ParseRequest(*request_bytes, *request);
  if (checked.ok()) checked = reader_.CheckScorecard(*request);
  if (!checked.ok()) {
    reactor->Finish(ToGrpcStatus(checked));
    return reactor;
  }
  alerts_.Fetch(
      request->unit_id(), request->period(),
      [this, reactor, request,
       response_bytes](absl::StatusOr<std::vector<v1::Alert>> open) {
        auto alerts = std::make_shared<absl::StatusOr<std::vector<v1::Alert>>>(
            std::move(open));
        auto read = [this, reactor, request, response_bytes, alerts] {
          absl::StatusOr<v1::Scorecard> card =
              reader_.Scorecard(*request, *alerts);
          if (card.ok()) *response_bytes = ToByteBuffer(*card);
          reactor->Finish(ToGrpcStatus(card.status()));
        };
        if (!work_.Submit(std::move(read))) {
          reactor->Finish(ToGrpcStatus(work_.Refused()));
        }
      });
  return reactor;
}

}  // namespace strata::rollup
