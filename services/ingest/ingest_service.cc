#include "services/ingest/ingest_service.h"

#include "absl/strings/str_cat.h"
#include "libs/grpcutil/raw_messages.h"
#include "libs/grpcutil/status_conversion.h"

namespace strata::ingest {
namespace {

// Tells a client refused for back-pressure when to try again.
void AddRetryAfter(grpc::CallbackServerContext* context,
                   const absl::Status& status) {
  if (absl::IsResourceExhausted(status)) {
    context->AddTrailingMetadata(kRetryAfterMsKey, "1000");
  }
}

// Reads batches until the client closes its side; each batch is ingested
// whole before the next is read, and the first one that does not parse or
// is rejected ends the call with its error, prefixed with its position in
// the stream ("message 3: ..."); the batches before it stay accepted.
class IngestStreamReactor final
    : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  IngestStreamReactor(grpc::CallbackServerContext* context,
                      KpiEventIngestor& ingestor, grpc::ByteBuffer* response)
      : context_(context), ingestor_(ingestor), response_(response) {
    StartRead(&bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client closed its side (a message that fails to parse arrives
      // here as bytes, so it cannot end the stream unnoticed).
      *response_ = ToByteBuffer(summary_);
      Finish(grpc::Status::OK);
      return;
    }
    v1::IngestRequest request;
    absl::Status status = ParseRequest(bytes_, request);
    absl::StatusOr<int64_t> accepted =
        status.ok() ? ingestor_.Ingest(request.events()) : status;
    if (!accepted.ok()) {
      AddRetryAfter(context_, accepted.status());
      Finish(ToGrpcStatus(absl::Status(
          accepted.status().code(),
          absl::StrCat("message ", messages_, " (", summary_.accepted(),
                       " events accepted before it): ",
                       accepted.status().message()))));
      return;
    }
    summary_.set_accepted(summary_.accepted() + *accepted);
    ++messages_;
    bytes_.Clear();
    StartRead(&bytes_);
  }

  void OnDone() override { delete this; }

 private:
  grpc::CallbackServerContext* context_;
  KpiEventIngestor& ingestor_;
  grpc::ByteBuffer* response_;
  grpc::ByteBuffer bytes_;
  v1::IngestResponse summary_;
  int64_t messages_ = 0;
};

}  // namespace

grpc::ServerUnaryReactor* IngestService::Ingest(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::IngestRequest, v1::IngestResponse>(
      context, request, response,
      [&](const v1::IngestRequest& in, v1::IngestResponse& out) {
        absl::StatusOr<int64_t> accepted = ingestor_.Ingest(in.events());
        if (accepted.ok()) out.set_accepted(*accepted);
        AddRetryAfter(context, accepted.status());
        return accepted.status();
      });
}

grpc::ServerReadReactor<grpc::ByteBuffer>* IngestService::IngestStream(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  return new IngestStreamReactor(context, ingestor_, response);
}

}  // namespace strata::ingest
