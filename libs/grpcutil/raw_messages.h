#pragma once

// Strata's services register their methods raw (gRPC hands over the request
// bytes) and parse requests here, because gRPC's own parsing answers a
// request that does not parse with UNIMPLEMENTED and no message (1.51's
// callback handlers replace the parse status), while protobuf writes the
// reason (invalid UTF-8 in a string field, ...) to stderr, once per bad
// request. Here such a request is INVALID_ARGUMENT naming the message type
// and protobuf's reason, and the server log stays quiet.
//
//   grpc::ServerUnaryReactor* IngestService::Ingest(
//       grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
//       grpc::ByteBuffer* response) {
//     return ServeUnary<v1::IngestRequest, v1::IngestResponse>(
//         context, request, response,
//         [&](const v1::IngestRequest& in, v1::IngestResponse& out) {
//           return Handle(in, out);  // absl::Status
//         });
//   }

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "libs/grpcutil/status_conversion.h"
#include "libs/grpcutil/work_pool.h"

namespace strata {

// Parses `bytes` into `message`: INVALID_ARGUMENT "request does not parse
// as strata.v1.IngestRequest (reason)" when it does not.
absl::Status ParseRequest(const grpc::ByteBuffer& bytes,
                          google::protobuf::Message& message);

// `message`'s wire form.
grpc::ByteBuffer ToByteBuffer(const google::protobuf::Message& message);

// Parses the request, runs `handle(request, response)` and answers its
// status, with the serialized response when OK.
template <typename Request, typename Response, typename Handle>
grpc::ServerUnaryReactor* ServeUnary(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request_bytes,
                                     grpc::ByteBuffer* response_bytes,
                                     Handle&& handle) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request request;
  absl::Status status = ParseRequest(*request_bytes, request);
  if (status.ok()) {
    Response response;
    status = handle(request, response);
    if (status.ok()) *response_bytes = ToByteBuffer(response);
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// ServeUnary with `handle` run on `pool` (libs/grpcutil/work_pool.h), for
// work that may block on other servers; RESOURCE_EXHAUSTED when too many
// requests wait there already. `handle` is copied into the work.
template <typename Request, typename Response, typename Handle>
grpc::ServerUnaryReactor* ServeUnaryOn(WorkPool& pool,
                                       grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request_bytes,
                                       grpc::ByteBuffer* response_bytes,
                                       Handle handle) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request request;
  if (absl::Status parsed = ParseRequest(*request_bytes, request);
      !parsed.ok()) {
    reactor->Finish(ToGrpcStatus(parsed));
    return reactor;
  }
  const bool submitted = pool.Submit(
      [context, reactor, response_bytes, handle = std::move(handle),
       request = std::move(request)]() mutable {
        // Waited past the caller's patience (or shutdown cancelled it).
        if (context->IsCancelled()) {
          reactor->Finish(grpc::Status::CANCELLED);
          return;
        }
        Response response;
        absl::Status status = handle(request, response);
        if (status.ok()) *response_bytes = ToByteBuffer(response);
        reactor->Finish(ToGrpcStatus(status));
      });
  if (!submitted) reactor->Finish(ToGrpcStatus(pool.Refused()));
  return reactor;
}

}  // namespace strata
