#pragma once

// IngestService over gRPC: unary batches and client streams of batches.

#include "services/ingest/kpi_event_ingestor.h"
#include "strata/v1/ingest_service.grpc.pb.h"

namespace strata::ingest {

class IngestService final : public v1::IngestService::CallbackService {
 public:
  explicit IngestService(KpiEventIngestor& ingestor) : ingestor_(ingestor) {}

  grpc::ServerUnaryReactor* Ingest(grpc::CallbackServerContext* context,
                                   const v1::IngestRequest* request,
                                   v1::IngestResponse* response) override;
  grpc::ServerReadReactor<v1::IngestRequest>* IngestStream(
      grpc::CallbackServerContext* context,
      v1::IngestResponse* response) override;

 private:
  KpiEventIngestor& ingestor_;
};

}  // namespace strata::ingest
