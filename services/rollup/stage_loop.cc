#include "services/rollup/stage_loop.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"

namespace strata::rollup {

StageLoop::StageLoop(std::string name, HealthReport& health,
                     const std::unique_ptr<eventlog::LogConsumer>& consumer,
                     size_t batch, absl::Duration timeout, StageSteps steps)
    : name_(std::move(name)),
      health_(health),
      consumer_(consumer),
      batch_(batch),
      timeout_(timeout),
      steps_(std::move(steps)) {}

StageLoop::~StageLoop() { Stop(); }

void StageLoop::Start(const char* thread_name) {
  thread_ = std::thread([this, thread_name] {
    pthread_setname_np(pthread_self(), thread_name);
    Run();
  });
}

void StageLoop::Stop() {
  if (!thread_.joinable()) return;
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  thread_.join();
}

void StageLoop::Run() {
  constexpr absl::Duration kFirstBackoff = absl::Milliseconds(10);
  absl::Duration backoff = kFirstBackoff;
  bool rewind = false;
  while (!stopping_.HasBeenNotified()) {
    absl::Status status = rewind ? steps_.rewind() : absl::OkStatus();
    if (status.ok()) {
      rewind = false;
      status = steps_.publish_outbox();
      if (!status.ok()) {
        // Polled all the same, what it reads dropped (read again after
        // the rewind): a member hears of rebalances only in a poll, and
        // one its group may have dropped publishes nothing until then.
        consumer_->Poll(batch_, absl::ZeroDuration()).IgnoreError();
      }
    }
    if (status.ok()) {
      absl::StatusOr<std::vector<eventlog::LogRecord>> records =
          consumer_->Poll(batch_, timeout_);
      status = records.ok() ? steps_.process(*records) : records.status();
    }
    if (status.ok()) {
      health_.SetUnlessDamaged(absl::OkStatus());
      backoff = kFirstBackoff;
      continue;
    }
    if (absl::IsDataLoss(status) || absl::IsOutOfRange(status)) {
      STRATA_LOG(ERROR) << name_ << ": stopped, not serving: " << status;
      health_.Set(status);
      return;
    }
    STRATA_LOG(WARNING) << name_ << ": " << status << "; retrying";
    health_.SetUnlessDamaged(absl::UnavailableError(
        absl::StrCat(name_, ": ", status.message())));
    rewind = true;
    if (stopping_.WaitForNotificationWithTimeout(backoff)) return;
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

}  // namespace strata::rollup
