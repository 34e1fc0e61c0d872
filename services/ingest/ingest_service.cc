#include "services/ingest/ingest_service.h"

#include "absl/strings/str_cat.h"
#include "libs/grpcutil/status_conversion.h"

namespace strata::ingest {
namespace {

// Reads batches until the client closes its side; each batch is ingested
// whole before the next is read, and the first rejected one ends the call
// with its error (prefixed with the batch's position in the stream).
class IngestStreamReactor final
    : public grpc::ServerReadReactor<v1::IngestRequest> {
 public:
  IngestStreamReactor(KpiEventIngestor& ingestor, v1::IngestResponse* response)
      : ingestor_(ingestor), response_(response) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    absl::StatusOr<int64_t> accepted = ingestor_.Ingest(request_.events());
    if (!accepted.ok()) {
      Finish(ToGrpcStatus(
          absl::Status(accepted.status().code(),
                       absl::StrCat("message ", messages_, ": ",
                                    accepted.status().message()))));
      return;
    }
    response_->set_accepted(response_->accepted() + *accepted);
    ++messages_;
    request_.Clear();
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  KpiEventIngestor& ingestor_;
  v1::IngestResponse* response_;
  v1::IngestRequest request_;
  int64_t messages_ = 0;
};

}  // namespace

grpc::ServerUnaryReactor* IngestService::Ingest(
    grpc::CallbackServerContext* context, const v1::IngestRequest* request,
    v1::IngestResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<int64_t> accepted = ingestor_.Ingest(request->events());
  if (accepted.ok()) response->set_accepted(*accepted);
  reactor->Finish(ToGrpcStatus(accepted.status()));
  return reactor;
}

grpc::ServerReadReactor<v1::IngestRequest>* IngestService::IngestStream(
    grpc::CallbackServerContext* context, v1::IngestResponse* response) {
  return new IngestStreamReactor(ingestor_, response);
}

}  // namespace strata::ingest
