#pragma once

// Whether a Kafka consumer is joining its group, as its own broker threads
// see it: from the sending of a JoinGroup request to the SyncGroup response
// that ends the join. A commit sent meanwhile can be answered only after
// the coordinator elected the next generation (the mock cluster holds every
// request of a joining member until then), is refused as of an illegal
// generation, and librdkafka then counts the member's whole assignment
// lost: commits wait while this says joining.

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace RdKafka {
class Conf;
}

namespace strata::eventlog {

class KafkaJoinWatch {
 public:
  KafkaJoinWatch() = default;
  KafkaJoinWatch(const KafkaJoinWatch&) = delete;
  KafkaJoinWatch& operator=(const KafkaJoinWatch&) = delete;

  // Watches the client `conf` creates next; this object must outlive it.
  absl::Status Watch(RdKafka::Conf& conf);

  // A join begun longer than `stale` ago counts as over (a client closed
  // mid-join sends no SyncGroup).
  bool Joining(absl::Duration stale) const;

  // Called by librdkafka's broker threads.
  void RequestSent(int16_t api_key);
  void ResponseReceived(int16_t api_key);

 private:
  std::atomic<int64_t> joining_since_ns_{0};  // 0: not joining.
};

}  // namespace strata::eventlog
