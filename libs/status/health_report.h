#pragma once

// A component's health as other threads read it: OK, or why its answers
// cannot be trusted right now. UNAVAILABLE for what passes (starting,
// catching up, a store or broker retrying); DATA_LOSS for damage that
// needs an operator or a rebuild. Gates the component's RPCs and the
// process's gRPC health status.
//
//   HealthReport health(absl::UnavailableError("starting"));
//   health.Set(absl::OkStatus());                   // engine thread
//   if (absl::Status s = health.Get(); !s.ok()) ... // any thread

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace strata {

class HealthReport {
 public:
  explicit HealthReport(absl::Status initial) : status_(std::move(initial)) {}

  void Set(absl::Status status) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
  }
  // Replaces an OK or UNAVAILABLE status only: damage stays reported.
  void SetUnlessDamaged(absl::Status status) {
    absl::MutexLock lock(&mu_);
    if (status_.ok() || absl::IsUnavailable(status_)) {
      status_ = std::move(status);
    }
  }
  absl::Status Get() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata
