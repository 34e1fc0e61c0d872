#pragma once

// An EventLog that forwards every call to another log and fails chosen
// Append, Poll and Commit calls on demand, for tests of how callers handle a
// log that errs. Consumers it creates are wrapped too, so their Poll and
// Commit can fail.
//
//   auto real = OpenRocksDbEventLog(options);          // or Kafka
//   FaultInjectingEventLog log(**real);
//   // The next append lands, yet the caller sees UNAVAILABLE (as a Kafka
//   // producer whose acknowledgement timed out would):
//   log.FailAppends(FaultInjectingEventLog::Fault::Next(1).AfterTheCall());
//   absl::Status s = log.Append("t", records);          // fails, landed
//   // Every poll of every consumer fails until cleared:
//   log.FailPolls(FaultInjectingEventLog::Fault::UntilCleared());
//   ...
//   log.ClearFaults();
//
// Thread-safe. Counting is per operation and across all consumers: "the
// third Poll" is the third Poll of any consumer of this log after
// FailPolls().

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "libs/eventlog/event_log.h"

namespace strata::eventlog {

class FaultInjectingEventLog final : public EventLog {
 public:
  enum class Operation { kAppend, kPoll, kCommit };

  // Which calls fail, how, and when relative to the wrapped call.
  struct Fault {
    // Fails only the n-th call from now (n >= 1).
    static Fault Nth(int n);
    // Fails the next `count` calls.
    static Fault Next(int count);
    // Fails every call until cleared.
    static Fault UntilCleared();

    // Calls the wrapped log first and fails only after it succeeded: the
    // records land (Append) or the positions are stored (Commit), yet the
    // caller sees the error. Ignored for Poll, which always fails before
    // reading anything: a failed poll consumes nothing.
    Fault AfterTheCall() const;
    // Fails with `status` (not OK) instead of the default UNAVAILABLE.
    Fault WithStatus(absl::Status status) const;

    // Calls let through before the first failure.
    int skip = 0;
    // Calls failed after the skipped ones; negative for every call until
    // cleared. Calls after the last failure pass again.
    int count = 1;
    // Empty (OK) for UNAVAILABLE "injected <operation> failure".
    absl::Status status;
    // See AfterTheCall(); false fails before calling the wrapped log.
    bool after_the_call = false;
  };

  // `log` must outlive this object and every consumer it creates.
  explicit FaultInjectingEventLog(EventLog& log);
  ~FaultInjectingEventLog() override;

  // Replaces the fault for Append calls (or Poll, or Commit), restarting
  // the count of calls from now.
  void FailAppends(Fault fault) {
    Inject(Operation::kAppend, std::move(fault));
  }
  void FailPolls(Fault fault) { Inject(Operation::kPoll, std::move(fault)); }
  void FailCommits(Fault fault) {
    Inject(Operation::kCommit, std::move(fault));
  }
  void Inject(Operation operation, Fault fault);

  // Lets every call through again.
  void ClearFaults();

  // Reports `start` as the first offset `tp` holds, as if retention had
  // deleted the records before it (reads are not affected).
  void SimulateRetention(const TopicPartition& tp, int64_t start) {
    absl::MutexLock lock(&retention_mu_);
    retained_from_[tp] = start;
  }

  // Every append to `topic` takes `delay` longer (a slow broker), failed
  // or not; zero to stop.
  void SlowAppends(const std::string& topic, absl::Duration delay) {
    absl::MutexLock lock(&retention_mu_);
    append_delay_[topic] = delay;
  }

  // How many calls of `operation` the faults picked to fail so far, over
  // every fault since construction.
  int64_t injected(Operation operation) const;

  // Forwarded to the wrapped log.
  absl::StatusOr<int32_t> PartitionCount(absl::string_view topic) override;
  absl::StatusOr<int64_t> EndOffset(const TopicPartition& tp) override;
  absl::StatusOr<int64_t> StartOffset(const TopicPartition& tp) override;

  // Forwarded unless the fault for Append picks this call: then fails with
  // the fault's status, before or after appending (see Fault).
  absl::Status Append(absl::string_view topic,
                      absl::Span<const AppendRecord> records) override;

  // A consumer of the wrapped log whose Poll and Commit fail as the faults
  // for them pick; Assign and Committed are forwarded. It shares this
  // object's faults and may outlive it, but not the wrapped log.
  absl::StatusOr<std::unique_ptr<LogConsumer>> NewConsumer(
      absl::string_view group) override;

 private:
  class Faults;
  class Consumer;

  EventLog& log_;
  std::shared_ptr<Faults> faults_;  // Shared with the consumers.
  absl::Mutex retention_mu_;
  absl::flat_hash_map<TopicPartition, int64_t> retained_from_
      ABSL_GUARDED_BY(retention_mu_);
  absl::flat_hash_map<std::string, absl::Duration> append_delay_
      ABSL_GUARDED_BY(retention_mu_);
};

}  // namespace strata::eventlog
