#include "services/alerts/alert_service.h"

#include <deque>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/grpcutil/raw_messages.h"
#include "libs/status/status_macros.h"
#include "libs/status/quote.h"
#include "libs/streams/period_proto.h"

namespace strata::alerts {
namespace {

// Most alerts a subscriber may lag behind before it is dropped.
constexpr size_t kMaxQueuedAlerts = 10'000;

// Streams alerts to one subscriber, one write at a time: first the
// changes after its resume point from the store's feed, then the hub's,
// each change once (by its number in the feed).
class SubscriptionReactor final
    : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
      public AlertSubscriber {
 public:
  // Listens to the hub at once; sends nothing before Start().
  SubscriptionReactor(AlertHub& hub, const std::string& unit_id,
                      std::string feed_id)
      : hub_(hub), feed_id_(std::move(feed_id)) {
    hub_.Subscribe(this, unit_id);
  }

  // Sends `backlog` (changes numbered up to `through`) before anything the
  // hub brought that is newer; tells the client the subscription is live.
  void Start(std::vector<v1::Alert> backlog, int64_t through) {
    std::lock_guard<std::mutex> lock(mu_);
    std::deque<grpc::ByteBuffer> live = std::move(queue_);
    std::deque<int64_t> live_sequences = std::move(sequences_);
    queue_.clear();
    for (v1::Alert& alert : backlog) EnqueueLocked(alert);
    for (size_t i = 0; i < live.size(); ++i) {
      if (live_sequences[i] > through) queue_.push_back(std::move(live[i]));
    }
    sent_through_ = through;
    started_ = true;
    StartSendInitialMetadata();
    if (!queue_.empty() && !writing_) WriteNextLocked();
  }

  // Ends the stream with `status` (after the write under way, if any).
  void Fail(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(status);
  }

  void OnAlert(const v1::Alert& alert) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (started_ && alert.sequence() <= sent_through_) return;
    if (queue_.size() >= kMaxQueuedAlerts) {
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "subscriber too slow; resume from the last "
                                "resume_token seen"));
      return;
    }
    v1::Alert copy = alert;
    EnqueueLocked(copy);
    if (started_ && !writing_) WriteNextLocked();
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
  void EnqueueLocked(v1::Alert& alert) {
    alert.set_resume_token(absl::StrCat(feed_id_, ":", alert.sequence()));
    if (!started_) sequences_.push_back(alert.sequence());
    queue_.push_back(ToByteBuffer(alert));
  }

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
  const std::string feed_id_;
  std::mutex mu_;
  std::deque<grpc::ByteBuffer> queue_;
  std::deque<int64_t> sequences_;  // Of queue_, until started.
  bool started_ = false;
  int64_t sent_through_ = 0;
  bool writing_ = false;
  bool finished_ = false;
  grpc::Status pending_finish_;
};

// Whether the alert's unit is in the subtree of `root` (none: every unit).
bool InScope(const Definitions& defs, const std::optional<UnitIndex>& root,
             const v1::Alert& alert) {
  if (!root) return true;
  const std::optional<UnitIndex> unit = defs.FindUnit(alert.key().unit_id());
  return unit && defs.InSubtree(*unit, *root);
}

// The feed number a token names; errors name the field and what to do.
absl::StatusOr<int64_t> SequenceOfToken(const std::string& token,
                                        const std::string& feed_id,
                                        int64_t last) {
  const size_t colon = token.rfind(':');
  int64_t sequence = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(token.substr(colon + 1), &sequence) || sequence < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("resume_token: ", Quoted(token),
                     " is not a token this service gave"));
  }
  if (token.substr(0, colon) != feed_id) {
    return absl::OutOfRangeError(
        "resume_token: the alerts state was rebuilt from the log since; "
        "list the alerts and subscribe without a token");
  }
  if (sequence > last) {
    return absl::OutOfRangeError(absl::StrCat(
        "resume_token: change ", sequence, " is past the latest, ", last));
  }
  return sequence;
}

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
    } else if (!InScope(*defs, root, alert)) {
      continue;
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
  // Resumed after this change; none: from now on.
  std::optional<int64_t> after;
  if (status.ok() && !request.resume_token().empty()) {
    absl::StatusOr<int64_t> sequence = SequenceOfToken(
        request.resume_token(), store_.feed_id(), store_.last_sequence());
    status = sequence.status();
    if (sequence.ok()) after = *sequence;
  }
  if (!status.ok()) {
    class Rejected final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
     public:
      explicit Rejected(const grpc::Status& status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Rejected(ToGrpcStatus(status));
  }
  // Listening first, then reading the feed: nothing falls in between.
  auto* reactor =
      new SubscriptionReactor(hub_, request.unit_id(), store_.feed_id());
  const int64_t through = store_.last_sequence();
  std::vector<v1::Alert> backlog;
  if (after) status = Backlog(request.unit_id(), *after, through, backlog);
  reactor->Start(std::move(backlog), through);
  if (!status.ok()) reactor->Fail(ToGrpcStatus(status));
  return reactor;
}

absl::Status AlertService::Backlog(const std::string& unit_id, int64_t after,
                                   int64_t through,
                                   std::vector<v1::Alert>& backlog) {
  if (through - after > static_cast<int64_t>(kMaxQueuedAlerts)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "resume_token: ", through - after, " changes behind, more than ",
        kMaxQueuedAlerts, "; list the alerts and subscribe without a token"));
  }
  ASSIGN_OR_RETURN(std::vector<v1::Alert> changes,
                   store_.FeedAfter(after, static_cast<size_t>(through - after)));
  std::shared_ptr<const Definitions> defs = definitions_.Current();
  std::optional<UnitIndex> root;
  if (!unit_id.empty()) root = defs->FindUnit(unit_id);
  for (v1::Alert& alert : changes) {
    if (InScope(*defs, root, alert)) backlog.push_back(std::move(alert));
  }
  return absl::OkStatus();
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

grpc::ServerUnaryReactor* AlertService::CreateSilence(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::CreateSilenceRequest, v1::Silence>(
      context, request, response,
      [&](const v1::CreateSilenceRequest& in, v1::Silence& out) {
        RETURN_IF_ERROR(CheckUnit(in.unit_id()));  // Empty: refused below.
        ASSIGN_OR_RETURN(out, actions_.CreateSilence(in));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AlertService::ListSilences(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::ListSilencesRequest, v1::ListSilencesResponse>(
      context, request, response,
      [&](const v1::ListSilencesRequest& in, v1::ListSilencesResponse& out) {
        RETURN_IF_ERROR(health_());
        ASSIGN_OR_RETURN(std::vector<v1::Silence> silences,
                         actions_.ListSilences(in.include_expired()));
        for (v1::Silence& silence : silences) {
          *out.add_silences() = std::move(silence);
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AlertService::ExpireSilence(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::ExpireSilenceRequest, v1::Silence>(
      context, request, response,
      [&](const v1::ExpireSilenceRequest& in, v1::Silence& out) {
        RETURN_IF_ERROR(health_());
        ASSIGN_OR_RETURN(out, actions_.ExpireSilence(in));
        return absl::OkStatus();
      });
}

}  // namespace strata::alerts
