#include "libs/grpcutil/work_pool.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace strata {

WorkPool::WorkPool(std::string name, int threads, size_t max_waiting)
    : name_(name), threads_count_(threads), max_waiting_(max_waiting) {
  name.resize(std::min<size_t>(name.size(), 15));  // pthread's limit.
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, name] {
      pthread_setname_np(pthread_self(), name.c_str());
      Run();
    });
  }
}

WorkPool::~WorkPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

absl::Status WorkPool::Refused() const {
  return absl::ResourceExhaustedError(absl::StrCat(
      name_, ": ", max_waiting_, " calls already wait for its ", threads_count_,
      " threads; retry in a moment"));
}

bool WorkPool::Submit(absl::AnyInvocable<void() &&> work) {
  absl::MutexLock lock(&mu_);
  if (waiting_.size() >= max_waiting_) return false;
  waiting_.push_back(std::move(work));
  return true;
}

void WorkPool::Run() {
  while (true) {
    absl::AnyInvocable<void() &&> work;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
            return pool->stopping_ || !pool->waiting_.empty();
          },
          this));
      if (waiting_.empty()) return;  // Stopping, nothing left.
      work = std::move(waiting_.front());
      waiting_.pop_front();
    }
    std::move(work)();
  }
}

}  // namespace strata
