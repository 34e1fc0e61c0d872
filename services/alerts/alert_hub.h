#pragma once

// Fans alerts out to live subscriptions, each filtered to a unit's subtree.

#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "libs/definitions/definitions.h"
#include "strata/v1/alert.pb.h"

namespace strata::alerts {

class AlertSubscriber {
 public:
  virtual ~AlertSubscriber() = default;
  // Called with the hub's lock held: must not block or call the hub.
  virtual void OnAlert(const v1::Alert& alert) = 0;
};

class AlertHub {
 public:
  // `unit_id` empty: every alert.
  void Subscribe(AlertSubscriber* subscriber, const std::string& unit_id);
  // After it returns, `subscriber` receives nothing more.
  void Unsubscribe(AlertSubscriber* subscriber);

  void Publish(const std::vector<v1::Alert>& alerts, const Definitions& defs);

  size_t subscriber_count() const;

 private:
  mutable std::mutex mu_;
  absl::flat_hash_map<AlertSubscriber*, std::string> subscribers_;
};

}  // namespace strata::alerts
