#pragma once

// Threads for request work that may block on other servers (a scaled-out
// rollup's query waiting for the instances that merge its cells). gRPC's
// callback threads, shared by every server and channel of the process,
// also run the calls such work waits for: with all of them blocked, none
// is left to answer, and the process stops answering at all (it did,
// under 48 concurrent scorecards with rollup instances in one process).
//
//   WorkPool pool("rollup-query", 8, 1024);
//   return ServeUnaryOn<Request, Response>(pool, context, in, out,
//       [this](const Request& request, Response& response) { ... });

#include <cstddef>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace strata {

class WorkPool {
 public:
  // `threads` run the work; at most `max_waiting` wait for one.
  WorkPool(std::string name, int threads, size_t max_waiting);
  // Runs the work still waiting, then ends the threads.
  ~WorkPool();

  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Runs `work` on one of the threads; false, without running it, when
  // `max_waiting` already wait. Thread-safe.
  bool Submit(absl::AnyInvocable<void() &&> work);
  // RESOURCE_EXHAUSTED for work Submit refused.
  absl::Status Refused() const;

 private:
  void Run();

  const std::string name_;
  const int threads_count_;
  const size_t max_waiting_;
  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> waiting_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace strata
