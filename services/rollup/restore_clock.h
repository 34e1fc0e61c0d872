#pragma once

// How long a scaled-out stage takes to restore the partitions it is
// assigned: from the assignment until it has read them up to the end the
// log had then, so that it serves them (SCALE_OUT.md, "Scale-out,
// restore, queries"). Logged once per take-over and kept for health. A
// take-over during a restore extends the one running.
//
//   RestoreClock clock("rollup combine", kRollupPartialsTopic);
//   clock.TookOver({3, 4}, records_to_read);   // in the assignment
//   clock.Check(!AnyRestoring());              // after each poll

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/clock/clock.h"

namespace strata::rollup {

struct RestoreFigures {
  int64_t restores = 0;      // Take-overs restored.
  int64_t last_ms = 0;       // The latest one's restore time.
  int64_t max_ms = 0;        // The longest.
  int64_t last_records = 0;  // Records the latest one read to restore.
};

// Thread-safe.
class RestoreClock {
 public:
  RestoreClock(std::string stage, std::string topic,
               Clock& clock = Clock::Real())
      : stage_(std::move(stage)), topic_(std::move(topic)), clock_(clock) {}

  // `partitions` were assigned, with `records` to read before they serve.
  void TookOver(const std::vector<int32_t>& partitions, int64_t records);
  // Ends the take-over running, if any, once `restored`: logs it.
  void Check(bool restored);
  RestoreFigures figures() const;

 private:
  struct Running {
    absl::Time since;
    std::vector<int32_t> partitions;
    int64_t records = 0;
  };

  const std::string stage_;
  const std::string topic_;
  Clock& clock_;
  mutable absl::Mutex mu_;
  std::optional<Running> running_ ABSL_GUARDED_BY(mu_);
  RestoreFigures figures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::rollup
