#pragma once

// When a Kafka group member was last heard by its group coordinator, as
// its own broker threads see it: the sending of the newest heartbeat,
// JoinGroup or SyncGroup request that the coordinator answered. The
// coordinator counts the member's session from the request's arrival,
// later than its sending, so a member heard `d` ago cannot have been
// dropped from its group (and its partitions given to another) unless
// `d` exceeds the session timeout: a member that publishes what its
// partitions hold checks this first, and stops before it could be a
// zombie beside their next owner.

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace RdKafka {
class Conf;
}

namespace strata::eventlog {

class KafkaSessionWatch {
 public:
  KafkaSessionWatch() = default;
  KafkaSessionWatch(const KafkaSessionWatch&) = delete;
  KafkaSessionWatch& operator=(const KafkaSessionWatch&) = delete;

  // Watches the client `conf` creates next; this object must outlive it.
  absl::Status Watch(RdKafka::Conf& conf);

  // When the newest answered request was sent; InfinitePast() before any.
  absl::Time LastHeard() const;

  // Called by librdkafka's broker threads.
  void RequestSent(int16_t api_key);
  void ResponseReceived(int16_t api_key, bool answered);

 private:
  mutable absl::Mutex mu_;
  // When the request in flight of each kind that keeps a session (a
  // member has one of each at most) was sent: librdkafka hands the
  // interceptors no correlation id that matches a response to its request.
  absl::flat_hash_map<int16_t, absl::Time> in_flight_ ABSL_GUARDED_BY(mu_);
  absl::Time last_heard_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace strata::eventlog
