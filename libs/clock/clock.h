#pragma once

// Where engine code gets the time, so that tests can drive it: a real
// clock in production, a simulated one that moves only when told to.
//
//   Clock& clock = Clock::Real();
//   absl::Time start = clock.Now();
//
//   SimulatedClock simulated(absl::FromUnixSeconds(1'790'000'000));
//   simulated.Advance(absl::Seconds(1));  // Now() moves by exactly that

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace strata {

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe.
  virtual absl::Time Now() const = 0;

  // The wall clock, shared by the process.
  static Clock& Real();
};

// Time that stands still until Advance(). Thread-safe.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::UnixEpoch())
      : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration by) {
    absl::MutexLock lock(&mu_);
    now_ += by;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata
