#ifndef STRATA_SERVICES_ROLLUP_STAGE_LOOP_H_
#define STRATA_SERVICES_ROLLUP_STAGE_LOOP_H_

// The loop of a routed rollup stage that reads one topic and commits what
// it read together with its outputs, in an outbox (stage A, EventRouter;
// stage C, CellCombiner).

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/eventlog/event_log.h"
#include "libs/status/health_report.h"

namespace strata::rollup {

struct StageSteps {
  // Publishes what the store committed in its outbox.
  std::function<absl::Status()> publish_outbox;
  // Processes, commits and publishes one poll's records.
  std::function<absl::Status(const std::vector<eventlog::LogRecord>&)>
      process;
  // Has the consumer read again from the committed positions: after a
  // failure, a poll would skip what failed.
  std::function<absl::Status()> rewind;
};

// Runs the steps on a thread of its own until stopped. A failure is
// retried after a back-off that doubles up to 5 s (UNAVAILABLE in health
// meanwhile); damage (DATA_LOSS, OUT_OF_RANGE) stops the loop, since
// reading again would only meet it again, and stays in health.
class StageLoop {
 public:
  // Each step polls up to `batch` records from `consumer` (set before
  // Start), waiting up to `timeout`. `name` prefixes logs and health;
  // `consumer` and `health` outlive the loop.
  StageLoop(std::string name, HealthReport& health,
            const std::unique_ptr<eventlog::LogConsumer>& consumer,
            size_t batch, absl::Duration timeout, StageSteps steps);
  ~StageLoop();

  StageLoop(const StageLoop&) = delete;
  StageLoop& operator=(const StageLoop&) = delete;

  // `thread_name`: at most 15 characters (pthread).
  void Start(const char* thread_name);
  // Returns once the loop is out of its current step; a back-off ends at
  // once.
  void Stop();

 private:
  void Run();

  const std::string name_;
  HealthReport& health_;
  const std::unique_ptr<eventlog::LogConsumer>& consumer_;
  const size_t batch_;
  const absl::Duration timeout_;
  const StageSteps steps_;
  absl::Notification stopping_;
  std::thread thread_;
};

}  // namespace strata::rollup

#endif  // STRATA_SERVICES_ROLLUP_STAGE_LOOP_H_
