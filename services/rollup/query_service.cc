#include "services/rollup/query_service.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/grpcutil/raw_messages.h"
#include "libs/status/status_macros.h"

namespace strata::rollup {
namespace {

// Serves `Request` -> `Response` on `work` with `answer`, which returns
// the response.
template <typename Request, typename Response, typename Answer>
grpc::ServerUnaryReactor* Serve(WorkPool& work,
                                grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response, Answer answer) {
  return ServeUnaryOn<Request, Response>(
      work, context, request, response,
      [answer](const Request& in, Response& out) {
        ASSIGN_OR_RETURN(out, answer(in));
        return absl::OkStatus();
      });
}

}  // namespace

absl::Status QueryService::BatchGet(const v1::BatchGetRollupsRequest& request,
                                    v1::BatchGetRollupsResponse& response) {
  if (request.keys_size() > kMaxBatchGetKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("keys: ", request.keys_size(), " keys exceed the limit of ",
                     kMaxBatchGetKeys, " a request"));
  }
  for (int i = 0; i < request.keys_size(); ++i) {
    absl::StatusOr<v1::RollupRecord> record = reader_.Get(request.keys(i));
    if (record.ok()) {
      *response.add_records() = *std::move(record);
    } else if (!absl::IsNotFound(record.status()) ||
               !absl::StartsWith(record.status().message(), "no events")) {
      return absl::Status(
          record.status().code(),
          absl::StrCat("keys[", i, "].", record.status().message()));
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* QueryService::GetRollup(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<v1::GetRollupRequest, v1::RollupRecord>(
      work_, context, request, response,
      [this](const v1::GetRollupRequest& in) { return reader_.Get(in.key()); });
}

grpc::ServerUnaryReactor* QueryService::BatchGetRollups(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnaryOn<v1::BatchGetRollupsRequest, v1::BatchGetRollupsResponse>(
      work_, context, request, response,
      [this](const v1::BatchGetRollupsRequest& in,
             v1::BatchGetRollupsResponse& out) { return BatchGet(in, out); });
}

grpc::ServerUnaryReactor* QueryService::GetSeries(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<v1::GetSeriesRequest, v1::GetSeriesResponse>(
      work_, context, request, response,
      [this](const v1::GetSeriesRequest& in) { return reader_.Series(in); });
}

grpc::ServerUnaryReactor* QueryService::GetChildren(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<v1::GetChildrenRequest, v1::GetChildrenResponse>(
      work_, context, request, response,
      [this](const v1::GetChildrenRequest& in) { return reader_.Children(in); });
}

grpc::ServerUnaryReactor* QueryService::GetUnitKpis(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<v1::GetUnitKpisRequest, v1::GetUnitKpisResponse>(
      work_, context, request, response,
      [this](const v1::GetUnitKpisRequest& in) { return reader_.UnitKpis(in); });
}

}  // namespace strata::rollup
