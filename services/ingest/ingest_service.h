#pragma once

// IngestService over gRPC: unary batches and client streams of batches.
// Registered raw, so that a request that does not parse is answered
// INVALID_ARGUMENT naming it (libs/grpcutil/raw_messages.h).

#include "services/ingest/kpi_event_ingestor.h"
#include "strata/v1/ingest_service.grpc.pb.h"

namespace strata::ingest {

// Trailing metadata on a RESOURCE_EXHAUSTED answer (back-pressure): how many
// milliseconds to wait before sending again.
inline constexpr char kRetryAfterMsKey[] = "strata-retry-after-ms";

class IngestService final
    : public v1::IngestService::WithRawCallbackMethod_Ingest<
          v1::IngestService::WithRawCallbackMethod_IngestStream<
              v1::IngestService::Service>> {
 public:
  explicit IngestService(KpiEventIngestor& ingestor) : ingestor_(ingestor) {}

  grpc::ServerUnaryReactor* Ingest(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  // Each message is a strata.v1.IngestRequest; the answer, once the client
  // closes its side, a strata.v1.IngestResponse.
  grpc::ServerReadReactor<grpc::ByteBuffer>* IngestStream(
      grpc::CallbackServerContext* context,
      grpc::ByteBuffer* response) override;

 private:
  KpiEventIngestor& ingestor_;
};

}  // namespace strata::ingest
