#include "services/rollup/open_alerts_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "strata/v1/alert_service.grpc.pb.h"

namespace strata::rollup {
namespace {

// One ListAlerts call; deletes itself when gRPC is done with it.
class ListCall final : public grpc::ClientUnaryReactor {
 public:
  ListCall(std::shared_ptr<grpc::Channel> channel, v1::ListAlertsRequest request,
           absl::Duration timeout, OpenAlertsClient::Done done)
      : stub_(v1::AlertService::NewStub(std::move(channel))),
        request_(std::move(request)),
        done_(std::move(done)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }

  void Start() {
    stub_->async()->ListAlerts(&context_, &request_, &response_, this);
    StartCall();
  }

  // The call, its context and its stub are gone before the caller hears:
  // a caller that then lets go of the channel, or a process that then
  // exits, must not race their destruction on this thread (gRPC asserted
  // on a reference count gone below zero at such an exit, in CI).
  void OnDone(const grpc::Status& status) override {
    absl::StatusOr<std::vector<v1::Alert>> result;
    if (status.ok()) {
      result = std::vector<v1::Alert>(response_.alerts().begin(),
                                      response_.alerts().end());
    } else {
      result = absl::UnavailableError(
          absl::StrCat("alerts service: ", status.error_message()));
    }
    OpenAlertsClient::Done done = std::move(done_);
    delete this;
    std::move(done)(std::move(result));
  }

 private:
  std::unique_ptr<v1::AlertService::Stub> stub_;
  grpc::ClientContext context_;
  v1::ListAlertsRequest request_;
  v1::ListAlertsResponse response_;
  OpenAlertsClient::Done done_;
};

}  // namespace

void OpenAlertsClient::Fetch(const std::string& unit_id,
                             const v1::Period& period, Done done) const {
  std::shared_ptr<grpc::Channel> channel = channel_ ? channel_() : nullptr;
  if (channel == nullptr) {
    std::move(done)(absl::FailedPreconditionError(
        "no alerts service configured (strata-rollup --alerts_address)"));
    return;
  }
  v1::ListAlertsRequest request;
  request.set_unit_id(unit_id);
  request.set_unit_only(true);
  *request.mutable_period() = period;
  (new ListCall(std::move(channel), std::move(request), timeout_,
                std::move(done)))
      ->Start();
}

}  // namespace strata::rollup
