#include "libs/eventlog/testing/fault_injecting_event_log.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace strata::eventlog {
namespace {

using Operation = FaultInjectingEventLog::Operation;
using Fault = FaultInjectingEventLog::Fault;

const char* NameOf(Operation operation) {
  switch (operation) {
    case Operation::kAppend:
      return "append";
    case Operation::kPoll:
      return "poll";
    case Operation::kCommit:
      return "commit";
  }
  return "?";
}

// What to do with one call.
struct Decision {
  std::optional<absl::Status> failure;  // None: forward the call as is.
  bool after_the_call = false;
};

}  // namespace

Fault Fault::Nth(int n) {
  Fault fault;
  fault.skip = n > 0 ? n - 1 : 0;
  fault.count = 1;
  return fault;
}

Fault Fault::Next(int count) {
  Fault fault;
  fault.count = count > 0 ? count : 0;
  return fault;
}

Fault Fault::UntilCleared() {
  Fault fault;
  fault.count = -1;
  return fault;
}

Fault Fault::AfterTheCall() const {
  Fault fault = *this;
  fault.after_the_call = true;
  return fault;
}

Fault Fault::WithStatus(absl::Status status) const {
  Fault fault = *this;
  fault.status = std::move(status);
  return fault;
}

// The armed fault and the counters of each operation.
class FaultInjectingEventLog::Faults {
 public:
  void Inject(Operation operation, Fault fault) {
    absl::MutexLock lock(&mu_);
    PerOperation& op = ops_[Index(operation)];
    if (fault.status.ok()) {
      fault.status = absl::UnavailableError(
          absl::StrCat("injected ", NameOf(operation), " failure"));
    }
    op.fault = std::move(fault);
    op.calls_seen = 0;
  }

  void Clear() {
    absl::MutexLock lock(&mu_);
    for (PerOperation& op : ops_) op.fault.reset();
  }

  int64_t injected(Operation operation) const {
    absl::MutexLock lock(&mu_);
    return ops_[Index(operation)].injected;
  }

  // Counts a call of `operation` and says whether it fails.
  Decision Next(Operation operation) {
    absl::MutexLock lock(&mu_);
    PerOperation& op = ops_[Index(operation)];
    if (!op.fault) return {};
    const int64_t call = op.calls_seen++;
    const Fault& fault = *op.fault;
    if (call < fault.skip) return {};
    if (fault.count >= 0 && call >= int64_t{fault.skip} + fault.count) {
      op.fault.reset();  // Spent.
      return {};
    }
    ++op.injected;
    return {fault.status,
            fault.after_the_call && operation != Operation::kPoll};
  }

 private:
  struct PerOperation {
    std::optional<Fault> fault;
    int64_t calls_seen = 0;  // Since the fault was armed.
    int64_t injected = 0;
  };

  static size_t Index(Operation operation) {
    return static_cast<size_t>(operation);
  }

  mutable absl::Mutex mu_;
  std::array<PerOperation, 3> ops_ ABSL_GUARDED_BY(mu_);
};

class FaultInjectingEventLog::Consumer final : public LogConsumer {
 public:
  Consumer(std::unique_ptr<LogConsumer> consumer,
           std::shared_ptr<Faults> faults)
      : consumer_(std::move(consumer)), faults_(std::move(faults)) {}

  absl::Status Assign(const std::vector<Position>& positions) override {
    return consumer_->Assign(positions);
  }

  absl::Status Subscribe(const std::vector<std::string>& topics,
                         RebalanceListener& listener) override {
    return consumer_->Subscribe(topics, listener);
  }

  absl::Status Seek(const std::vector<Position>& positions) override {
    return consumer_->Seek(positions);
  }

  absl::StatusOr<std::vector<LogRecord>> Poll(size_t max_records,
                                              absl::Duration timeout) override {
    Decision decision = faults_->Next(Operation::kPoll);
    if (decision.failure) return *std::move(decision.failure);
    return consumer_->Poll(max_records, timeout);
  }

  absl::Status Commit(const std::vector<Position>& positions) override {
    Decision decision = faults_->Next(Operation::kCommit);
    if (!decision.failure) return consumer_->Commit(positions);
    if (decision.after_the_call) {
      // Only a commit that really happened may report the injected error.
      absl::Status committed = consumer_->Commit(positions);
      if (!committed.ok()) return committed;
    }
    return *std::move(decision.failure);
  }

  absl::StatusOr<int64_t> Committed(const TopicPartition& tp) override {
    return consumer_->Committed(tp);
  }

  int64_t RecordsBehind() override { return consumer_->RecordsBehind(); }

  absl::Status CheckMembership() override {
    return consumer_->CheckMembership();
  }

 private:
  std::unique_ptr<LogConsumer> consumer_;
  std::shared_ptr<Faults> faults_;
};

FaultInjectingEventLog::FaultInjectingEventLog(EventLog& log)
    : log_(log), faults_(std::make_shared<Faults>()) {}

FaultInjectingEventLog::~FaultInjectingEventLog() = default;

void FaultInjectingEventLog::Inject(Operation operation, Fault fault) {
  faults_->Inject(operation, std::move(fault));
}

void FaultInjectingEventLog::ClearFaults() { faults_->Clear(); }

int64_t FaultInjectingEventLog::injected(Operation operation) const {
  return faults_->injected(operation);
}

absl::StatusOr<int32_t> FaultInjectingEventLog::PartitionCount(
    absl::string_view topic) {
  return log_.PartitionCount(topic);
}

absl::StatusOr<int64_t> FaultInjectingEventLog::EndOffset(
    const TopicPartition& tp) {
  return log_.EndOffset(tp);
}

absl::StatusOr<int64_t> FaultInjectingEventLog::StartOffset(
    const TopicPartition& tp) {
  absl::StatusOr<int64_t> start = log_.StartOffset(tp);
  absl::MutexLock lock(&retention_mu_);
  if (auto it = retained_from_.find(tp); start.ok() && it != retained_from_.end()) {
    return std::max(*start, it->second);
  }
  return start;
}

absl::Status FaultInjectingEventLog::Append(
    absl::string_view topic, absl::Span<const AppendRecord> records) {
  absl::Duration delay;
  {
    absl::MutexLock lock(&retention_mu_);
    auto it = append_delay_.find(topic);
    if (it != append_delay_.end()) delay = it->second;
  }
  absl::SleepFor(delay);
  Decision decision = faults_->Next(Operation::kAppend);
  if (!decision.failure) return log_.Append(topic, records);
  if (decision.after_the_call) {
    // Only an append that really landed may report the injected error.
    absl::Status appended = log_.Append(topic, records);
    if (!appended.ok()) return appended;
  }
  return *std::move(decision.failure);
}

absl::StatusOr<std::unique_ptr<LogConsumer>>
FaultInjectingEventLog::NewConsumer(absl::string_view group) {
  absl::StatusOr<std::unique_ptr<LogConsumer>> consumer =
      log_.NewConsumer(group);
  if (!consumer.ok()) return consumer.status();
  return std::unique_ptr<LogConsumer>(
      new Consumer(std::move(consumer).value(), faults_));
}

}  // namespace strata::eventlog
