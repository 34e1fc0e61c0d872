#pragma once

// Sends a workload's batches through IngestService in order and knows, per
// batch, whether it was acknowledged, is uncertain (sent, outcome unknown)
// or was never sent. As a real feed would, it resends an uncertain batch:
// event ids make that safe.
//
//   Feeder feeder(workload);
//   feeder.Feed(client, workload.batch_count());
//   ExactTotals(client, workload, feeder.Acked());

#include <algorithm>
#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/faults/strata_client.h"
#include "tests/faults/workload.h"

namespace strata::faults {

class Feeder {
 public:
  enum BatchState : char { kUnsent, kUncertain, kAcked };

  explicit Feeder(const Workload& w)
      : w_(w), state_(w.batch_count(), kUnsent) {}

  // Sends the uncertain batches again, then new ones in order up to batch
  // `until`, pausing `pause_ms` (a range) between batches; stops at the
  // first batch whose outcome it cannot know (the server went away) or
  // once `stop` is set. Thread-compatible: one Feed() at a time.
  void Feed(StrataClient& client, size_t until, std::pair<int, int> pause_ms = {0, 0},
            uint64_t pacing_seed = 0, const std::atomic<bool>* stop = nullptr) {
    Rng pacing(pacing_seed);
    std::vector<size_t> order;
    for (size_t b = 0; b < next_; ++b) {
      if (state_[b] == kUncertain) order.push_back(b);
    }
    for (size_t b = next_; b < until && b < w_.batch_count(); ++b) {
      order.push_back(b);
    }
    for (size_t b : order) {
      if (stop != nullptr && stop->load()) return;
      if (b >= next_) next_ = b + 1;
      if (!Send(client, b)) return;
      if (pause_ms.second > 0) {
        absl::SleepFor(absl::Milliseconds(
            pacing.Between(pause_ms.first, pause_ms.second)));
      }
    }
  }

  // Events of acknowledged batches.
  EventSet Acked() const {
    return EventsWhere([](char s) { return s == kAcked; });
  }
  // Events of batches sent at least once.
  EventSet Sent() const {
    return EventsWhere([](char s) { return s != kUnsent; });
  }
  size_t next() const { return next_; }
  size_t acked_batches() const {
    return std::count(state_.begin(), state_.end(), kAcked);
  }
  size_t uncertain_batches() const {
    return std::count(state_.begin(), state_.end(), kUncertain);
  }
  bool all_sent_acked() const { return uncertain_batches() == 0; }
  // Refusals of valid events: each one is a failure of the system.
  const std::vector<std::string>& rejections() const { return rejections_; }
  std::string Summary() const {
    return absl::StrCat(
        acked_batches(), " batches acknowledged, ", uncertain_batches(),
        " uncertain, ", w_.batch_count() - next_, " not yet sent",
        last_unknown_.empty() ? "" : "; last unknown outcome: ", last_unknown_);
  }

 private:
  // False when the outcome is unknown (the batch stays uncertain).
  bool Send(StrataClient& client, size_t b) {
    v1::IngestRequest request;
    for (size_t i = w_.batches[b].first; i < w_.batches[b].second; ++i) {
      *request.add_events() = ToProto(w_.events[i]);
    }
    for (int attempt = 0;; ++attempt) {
      v1::IngestResponse response;
      grpc::Status status = client.Ingest(request, response);
      if (status.ok()) {
        state_[b] = kAcked;
        return true;
      }
      if (state_[b] == kUnsent) state_[b] = kUncertain;
      switch (status.error_code()) {
        case grpc::StatusCode::RESOURCE_EXHAUSTED:  // Back-pressure.
        case grpc::StatusCode::ABORTED:             // A concurrent claim.
          if (attempt < 100) {
            absl::SleepFor(absl::Milliseconds(50));
            continue;
          }
          last_unknown_ = absl::StrCat("batch ", b, ": ", Describe(status));
          return false;
        case grpc::StatusCode::UNAVAILABLE:
        case grpc::StatusCode::DEADLINE_EXCEEDED:
        case grpc::StatusCode::CANCELLED:
        case grpc::StatusCode::UNKNOWN:
        case grpc::StatusCode::INTERNAL:
          last_unknown_ = absl::StrCat("batch ", b, ": ", Describe(status));
          return false;
        default:
          rejections_.push_back(
              absl::StrCat("batch ", b, ": ", Describe(status)));
          return false;
      }
    }
  }

  template <typename Pred>
  EventSet EventsWhere(Pred pred) const {
    EventSet set(w_.events.size(), 0);
    for (size_t b = 0; b < state_.size(); ++b) {
      if (!pred(state_[b])) continue;
      for (size_t i = w_.batches[b].first; i < w_.batches[b].second; ++i) {
        set[i] = 1;
      }
    }
    return set;
  }

  const Workload& w_;
  std::vector<char> state_;
  size_t next_ = 0;  // Batches before it were sent at least once.
  std::vector<std::string> rejections_;
  std::string last_unknown_;
};

}  // namespace strata::faults
