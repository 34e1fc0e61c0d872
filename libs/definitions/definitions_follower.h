#pragma once

// Keeps a Definitions snapshot current by tailing the definitions topic from
// its start in a background thread. Every service process has one.
//
//   ASSIGN_OR_RETURN(auto follower,
//                    DefinitionsFollower::Create(log, "rollup"));
//   // Before Start, to hear of every batch; removed when `listening` goes.
//   DefinitionsFollower::Registration listening =
//       follower->AddListener(...);
//   follower->Start();
//   std::shared_ptr<const Definitions> defs = follower->Current();
//   RETURN_IF_ERROR(follower->CatchUp(absl::Seconds(5)));  // read-your-writes

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "libs/definitions/definitions.h"
#include "libs/eventlog/event_log.h"

namespace strata {

class DefinitionsFollower {
 public:
  // Called on the follower's thread after each applied batch, once
  // Current() returns the new snapshot, with that snapshot and the batch.
  using Listener =
      std::function<void(const Definitions&, const v1::DefinitionBatch&)>;

  // Keeps a listener registered while it lives; its destructor removes the
  // listener, waiting for a call in progress, so that an owner destroyed
  // while the follower still runs is never called afterwards.
  class Registration {
   public:
    Registration() = default;
    Registration(Registration&& other) noexcept { *this = std::move(other); }
    Registration& operator=(Registration&& other) noexcept;
    ~Registration();

   private:
    friend class DefinitionsFollower;
    Registration(DefinitionsFollower* follower, int id)
        : follower_(follower), id_(id) {}
    DefinitionsFollower* follower_ = nullptr;
    int id_ = 0;
  };

  // A follower that has not started reading yet.
  static absl::StatusOr<std::unique_ptr<DefinitionsFollower>> Create(
      eventlog::EventLog& log, const std::string& consumer_group);
  ~DefinitionsFollower();

  // Before Start() to hear of every batch. The follower must outlive the
  // registration.
  [[nodiscard]] Registration AddListener(Listener listener);
  void Start();
  // Stops reading (idempotent); the destructor does too.
  void Stop();

  std::shared_ptr<const Definitions> Current() const;

  // Current(), unless `satisfied` rejects it: then catches up (up to
  // `timeout`) and returns the newest snapshot, which callers check again.
  // For references to definitions another process may just have appended.
  std::shared_ptr<const Definitions> CurrentSatisfying(
      const std::function<bool(const Definitions&)>& satisfied,
      absl::Duration timeout = absl::Seconds(5));

  // Waits until every definition appended before the call is applied;
  // DEADLINE_EXCEEDED after `timeout`.
  absl::Status CatchUp(absl::Duration timeout);

  // Waits until the record at `offset` and all before it are applied.
  absl::Status WaitForOffset(int64_t offset, absl::Duration timeout);

  // What became of the batch of the envelope `event_id`, among the last
  // kRememberedOutcomes read: OK when applied, else why every reader skipped
  // it (another writer's batch came first and it no longer applies);
  // nullopt when not read (yet, or long ago).
  std::optional<absl::Status> OutcomeOf(const std::string& event_id) const;
  static constexpr size_t kRememberedOutcomes = 4096;

 private:
  DefinitionsFollower(eventlog::EventLog& log,
                      std::unique_ptr<eventlog::LogConsumer> consumer);
  void Run();

  void RemoveListener(int id);

  eventlog::EventLog& log_;
  std::unique_ptr<eventlog::LogConsumer> consumer_;
  // Held while listeners are called, so removal waits for a call.
  std::mutex listeners_mu_;
  std::map<int, Listener> listeners_;  // Guarded by listeners_mu_.
  int next_listener_id_ = 0;           // Guarded by listeners_mu_.
  std::atomic<bool> stop_{false};
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable applied_cv_;
  std::shared_ptr<const Definitions> current_;  // Guarded by mu_.
  int64_t next_offset_ = 0;                     // Guarded by mu_.
  // By envelope event id, oldest first in outcome_order_. Guarded by mu_.
  absl::flat_hash_map<std::string, absl::Status> outcomes_;
  std::deque<std::string> outcome_order_;
};

}  // namespace strata
