#pragma once

// AlertService over gRPC: list, subscribe (server stream), acknowledge,
// resolve; create, list and expire silences.

#include <functional>

#include "libs/definitions/definitions_follower.h"
#include "services/alerts/alert_actions.h"
#include "services/alerts/alert_hub.h"
#include "services/alerts/alert_store.h"
#include "strata/v1/alert_service.grpc.pb.h"

namespace strata::alerts {

// Registered raw, so that a request that does not parse is answered
// INVALID_ARGUMENT naming it (libs/grpcutil/raw_messages.h).
class AlertService final
    : public v1::AlertService::WithRawCallbackMethod_ListAlerts<
          v1::AlertService::WithRawCallbackMethod_SubscribeAlerts<
              v1::AlertService::WithRawCallbackMethod_AcknowledgeAlert<
                  v1::AlertService::WithRawCallbackMethod_ResolveAlert<
                      v1::AlertService::WithRawCallbackMethod_CreateSilence<
                          v1::AlertService::WithRawCallbackMethod_ListSilences<
                              v1::AlertService::
                                  WithRawCallbackMethod_ExpireSilence<
                                      v1::AlertService::Service>>>>>>> {
 public:
  // Every call first asks `health`, and answers its error if not OK: no
  // alert list from an engine still replaying or stopped by damage.
  AlertService(AlertStore& store, AlertHub& hub, AlertActions& actions,
               DefinitionsFollower& definitions,
               std::function<absl::Status()> health)
      : store_(store),
        hub_(hub),
        actions_(actions),
        definitions_(definitions),
        health_(std::move(health)) {}

  grpc::ServerUnaryReactor* ListAlerts(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  // Streams strata.v1.Alert messages.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* SubscribeAlerts(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* AcknowledgeAlert(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ResolveAlert(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CreateSilence(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListSilences(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ExpireSilence(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;

 private:
  absl::Status List(const v1::ListAlertsRequest& request,
                    v1::ListAlertsResponse& response);
  // The feed's changes numbered after `after` up to `through`, in the
  // subtree of `unit_id` (empty: every unit).
  absl::Status Backlog(const std::string& unit_id, int64_t after,
                       int64_t through, std::vector<v1::Alert>& backlog);
  // The engine's health, then the unit's existence.
  absl::Status CheckUnit(const std::string& unit_id);

  AlertStore& store_;
  AlertHub& hub_;
  AlertActions& actions_;
  DefinitionsFollower& definitions_;
  const std::function<absl::Status()> health_;
};

}  // namespace strata::alerts
