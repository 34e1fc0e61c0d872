#include "services/alerts/alert_hub.h"

namespace strata::alerts {

void AlertHub::Subscribe(AlertSubscriber* subscriber,
                         const std::string& unit_id) {
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_[subscriber] = unit_id;
}

void AlertHub::Unsubscribe(AlertSubscriber* subscriber) {
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_.erase(subscriber);
}

size_t AlertHub::subscriber_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return subscribers_.size();
}

void AlertHub::Publish(const std::vector<v1::Alert>& alerts,
                       const Definitions& defs) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const v1::Alert& alert : alerts) {
    std::optional<UnitIndex> unit = defs.FindUnit(alert.key().unit_id());
    for (const auto& [subscriber, root_id] : subscribers_) {
      if (!root_id.empty()) {
        std::optional<UnitIndex> root = defs.FindUnit(root_id);
        if (!unit || !root || !defs.InSubtree(*unit, *root)) continue;
      }
      subscriber->OnAlert(alert);
    }
  }
}

}  // namespace strata::alerts
