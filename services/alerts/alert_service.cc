#include "services/alerts/alert_service.h"

#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "libs/grpcutil/raw_messages.h"
#include "libs/status/status_macros.h"
#include "libs/status/quote.h"
#include "libs/streams/period_proto.h"

namespace strata::alerts {
namespace {

// Most alerts a subscriber may lag behind before it is dropped.
constexpr size_t kMaxQueuedAlerts = 10'000;

// Streams alerts from the hub to one subscriber, one write at a time.
class SubscriptionReactor final
    : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
      public AlertSubscriber {
 public:
  SubscriptionReactor(AlertHub& hub, const std::string& unit_id) : hub_(hub) {
    hub_.Subscribe(this, unit_id);
    // Tells the client the subscription is live.
    StartSendInitialMetadata();
  }

  void OnAlert(const v1::Alert& alert) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (queue_.size() >= kMaxQueuedAlerts) {
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "subscriber too slow; resubscribe"));
      return;
    }
    queue_.push_back(ToByteBuffer(alert));
    if (!writing_) WriteNextLocked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (finished_) {
      Finish(pending_finish_);
      return;
    }
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    queue_.pop_front();
    if (!queue_.empty()) WriteNextLocked();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    hub_.Unsubscribe(this);
    delete this;
  }

 private:
  void WriteNextLocked() {
    if (finished_) return;
    writing_ = true;
    StartWrite(&queue_.front());
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    if (!writing_)
      Finish(status);
    else
      pending_finish_ = status;  // Finished once the write completes.
  }

  AlertHub& hub_;
  std::mutex mu_;
  std::deque<grpc::ByteBuffer> queue_;
  bool writing_ = false;
  bool finished_ = false;
  grpc::Status pending_finish_;
};

}  // namespace

absl::Status AlertService::CheckUnit(const std::string& unit_id) {
  RETURN_IF_ERROR(health_());
  auto known = [&](const Definitions& defs) {
    return unit_id.empty() || defs.FindUnit(unit_id).has_value();
  };
  if (known(*definitions_.CurrentSatisfying(known))) return absl::OkStatus();
  return absl::NotFoundError(
      absl::StrCat("unit_id: unknown unit ", Quoted(unit_id)));
}

absl::Status AlertService::List(const v1::ListAlertsRequest& request,
                                v1::ListAlertsResponse& response) {
  RETURN_IF_ERROR(CheckUnit(request.unit_id()));
  if (request.unit_only() && request.unit_id().empty()) {
    return absl::InvalidArgumentError("unit_only: requires unit_id");
  }
  // Alert keys carry the canonical label ("2026-03"), as rollup records do.
  std::optional<std::pair<v1::PeriodKind, std::string>> period;
  if (request.has_period()) {
    ASSIGN_OR_RETURN(Period parsed,
                     PeriodFromProto(request.period(), "period"));
    period.emplace(request.period().kind(), PeriodLabel(parsed));
  }
  ASSIGN_OR_RETURN(std::vector<v1::Alert> alerts, store_.ListAlerts());
  std::shared_ptr<const Definitions> defs = definitions_.Current();
  std::optional<UnitIndex> root;
  if (!request.unit_id().empty()) root = defs->FindUnit(request.unit_id());
  for (v1::Alert& alert : alerts) {
    if (!request.include_resolved() &&
        alert.state() == v1::ALERT_STATE_RESOLVED) {
      continue;
    }
    if (period && (alert.key().period().kind() != period->first ||
                   alert.key().period().label() != period->second)) {
      continue;
    }
    if (request.unit_only()) {
      if (alert.key().unit_id() != request.unit_id()) continue;
    } else if (root) {
      std::optional<UnitIndex> unit = defs->FindUnit(alert.key().unit_id());
      if (!unit || !defs->InSubtree(*unit, *root)) continue;
    }
    *response.add_alerts() = std::move(alert);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AlertService::ListAlerts(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::ListAlertsRequest, v1::ListAlertsResponse>(
      context, request, response,
      [&](const v1::ListAlertsRequest& in, v1::ListAlertsResponse& out) {
        return List(in, out);
      });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* AlertService::SubscribeAlerts(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes) {
  v1::SubscribeAlertsRequest request;
  absl::Status status = ParseRequest(*bytes, request);
  if (status.ok()) status = CheckUnit(request.unit_id());
  if (!status.ok()) {
    class Rejected final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
     public:
      explicit Rejected(const grpc::Status& status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Rejected(ToGrpcStatus(status));
  }
  return new SubscriptionReactor(hub_, request.unit_id());
}

grpc::ServerUnaryReactor* AlertService::AcknowledgeAlert(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::AcknowledgeAlertRequest, v1::Alert>(
      context, request, response,
      [&](const v1::AcknowledgeAlertRequest& in, v1::Alert& out) {
        RETURN_IF_ERROR(health_());
        ASSIGN_OR_RETURN(out, actions_.Acknowledge(in));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AlertService::ResolveAlert(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::ResolveAlertRequest, v1::Alert>(
      context, request, response,
      [&](const v1::ResolveAlertRequest& in, v1::Alert& out) {
        RETURN_IF_ERROR(health_());
        ASSIGN_OR_RETURN(out, actions_.Resolve(in));
        return absl::OkStatus();
      });
}

}  // namespace strata::alerts
