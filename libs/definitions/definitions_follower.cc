#include "libs/definitions/definitions_follower.h"

#include <pthread.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/definitions/definitions_record.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"

namespace strata {

absl::StatusOr<std::unique_ptr<DefinitionsFollower>>
DefinitionsFollower::Create(eventlog::EventLog& log,
                            const std::string& consumer_group) {
  ASSIGN_OR_RETURN(auto consumer, log.NewConsumer(consumer_group));
  // Definitions are small and replayed whole at every start, so their
  // position is never committed.
  RETURN_IF_ERROR(consumer->Assign({{{kDefinitionsTopic, 0}, 0}}));
  return std::unique_ptr<DefinitionsFollower>(
      new DefinitionsFollower(log, std::move(consumer)));
}

DefinitionsFollower::Registration DefinitionsFollower::AddListener(
    Listener listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  const int id = next_listener_id_++;
  listeners_.emplace(id, std::move(listener));
  return Registration(this, id);
}

void DefinitionsFollower::RemoveListener(int id) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(id);
}

DefinitionsFollower::Registration&
DefinitionsFollower::Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    if (follower_ != nullptr) follower_->RemoveListener(id_);
    follower_ = std::exchange(other.follower_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

DefinitionsFollower::Registration::~Registration() {
  if (follower_ != nullptr) follower_->RemoveListener(id_);
}

void DefinitionsFollower::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "definitions");
    Run();
  });
}

DefinitionsFollower::DefinitionsFollower(
    eventlog::EventLog& log, std::unique_ptr<eventlog::LogConsumer> consumer)
    : log_(log),
      consumer_(std::move(consumer)),
      current_(std::make_shared<const Definitions>()) {}

DefinitionsFollower::~DefinitionsFollower() { Stop(); }

void DefinitionsFollower::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const Definitions> DefinitionsFollower::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::shared_ptr<const Definitions> DefinitionsFollower::CurrentSatisfying(
    const std::function<bool(const Definitions&)>& satisfied,
    absl::Duration timeout) {
  std::shared_ptr<const Definitions> current = Current();
  if (satisfied(*current)) return current;
  absl::Status caught_up = CatchUp(timeout);
  if (!caught_up.ok()) {
    STRATA_LOG(WARNING) << "definitions: " << caught_up;
  }
  return Current();
}

absl::Status DefinitionsFollower::CatchUp(absl::Duration timeout) {
  ASSIGN_OR_RETURN(int64_t end, log_.EndOffset({kDefinitionsTopic, 0}));
  return WaitForOffset(end - 1, timeout);
}

absl::Status DefinitionsFollower::WaitForOffset(int64_t offset,
                                                absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!applied_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                            [&] { return next_offset_ > offset; })) {
    return absl::DeadlineExceededError(
        absl::StrCat("definitions not caught up to offset ", offset, " (at ",
                     next_offset_, ")"));
  }
  return absl::OkStatus();
}

std::optional<absl::Status> DefinitionsFollower::OutcomeOf(
    const std::string& event_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = outcomes_.find(event_id);
  if (it == outcomes_.end()) return std::nullopt;
  return it->second;
}

void DefinitionsFollower::Run() {
  while (!stop_) {
    auto records = consumer_->Poll(256, absl::Milliseconds(100));
    if (!records.ok()) {
      STRATA_LOG(WARNING) << "definitions: " << records.status();
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    for (const eventlog::LogRecord& record : *records) {
      DefinitionsRecord applied = ApplyDefinitionsRecord(*Current(), record);
      const bool changed = applied.next.has_value();
      std::shared_ptr<const Definitions> next =
          changed ? std::make_shared<const Definitions>(*std::move(applied.next))
                  : Current();
      {
        std::lock_guard<std::mutex> lock(mu_);
        current_ = next;
        next_offset_ = record.offset + 1;
        if (!applied.event_id.empty() &&
            outcomes_.emplace(applied.event_id, applied.skipped).second) {
          outcome_order_.push_back(applied.event_id);
          if (outcome_order_.size() > kRememberedOutcomes) {
            outcomes_.erase(outcome_order_.front());
            outcome_order_.pop_front();
          }
        }
      }
      applied_cv_.notify_all();
      // After Current() shows the batch, so a listener reading it sees it.
      if (changed) {
        std::lock_guard<std::mutex> lock(listeners_mu_);
        for (const auto& [id, listener] : listeners_) {
          listener(*next, applied.batch);
        }
      }
    }
  }
}

}  // namespace strata
