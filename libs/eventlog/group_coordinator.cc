#include "libs/eventlog/group_coordinator.h"

#include <algorithm>

namespace strata::eventlog {

GroupCoordinator::MemberId GroupCoordinator::Join(
    const std::string& group, const std::vector<TopicPartition>& partitions) {
  MemberId id;
  {
    absl::MutexLock lock(&mu_);
    id = next_member_++;
    members_[id] = Member{group, partitions};
    Rebalance(group);
  }
  wake_();
  return id;
}

void GroupCoordinator::Leave(MemberId member) {
  {
    absl::MutexLock lock(&mu_);
    auto it = members_.find(member);
    if (it == members_.end()) return;
    const std::string group = it->second.group;
    members_.erase(it);
    for (auto& [key, slot] : groups_[group]) {
      if (slot.owner == member) slot.owner = -1;
    }
    Rebalance(group);
  }
  wake_();
}

GroupCoordinator::Moves GroupCoordinator::MovesFor(MemberId member) const {
  absl::MutexLock lock(&mu_);
  Moves moves;
  auto it = members_.find(member);
  if (it == members_.end()) return moves;
  for (const auto& [key, slot] : groups_.at(it->second.group)) {
    if (slot.owner == member && slot.target != member) {
      moves.revoke.push_back({key.first, key.second});
    } else if (slot.target == member && slot.owner == -1) {
      moves.assign.push_back({key.first, key.second});
    }
  }
  return moves;
}

void GroupCoordinator::Released(MemberId member,
                                const std::vector<TopicPartition>& released) {
  {
    absl::MutexLock lock(&mu_);
    auto it = members_.find(member);
    if (it == members_.end()) return;
    Slots& slots = groups_[it->second.group];
    for (const TopicPartition& tp : released) {
      Slot& slot = slots[{tp.topic, tp.partition}];
      if (slot.owner == member) slot.owner = -1;
    }
  }
  wake_();  // Their new owners may take them now.
}

std::vector<TopicPartition> GroupCoordinator::Claim(MemberId member) {
  absl::MutexLock lock(&mu_);
  std::vector<TopicPartition> claimed;
  auto it = members_.find(member);
  if (it == members_.end()) return claimed;
  for (auto& [key, slot] : groups_[it->second.group]) {
    if (slot.target == member && slot.owner == -1) {
      slot.owner = member;
      claimed.push_back({key.first, key.second});
    }
  }
  return claimed;
}

void GroupCoordinator::Rebalance(const std::string& group) {
  Slots& slots = groups_[group];
  // Who may read each partition, and how many each member is given.
  absl::flat_hash_map<std::pair<std::string, int32_t>, std::vector<MemberId>>
      eligible;
  absl::flat_hash_map<MemberId, int> load;
  for (const auto& [id, member] : members_) {
    if (member.group != group) continue;
    load[id] = 0;
    for (const TopicPartition& tp : member.subscribed) {
      eligible[{tp.topic, tp.partition}].push_back(id);
      slots[{tp.topic, tp.partition}];  // Known from now on.
    }
  }
  auto may_read = [&](const std::pair<std::string, int32_t>& key,
                      MemberId id) {
    auto it = eligible.find(key);
    return it != eligible.end() &&
           std::find(it->second.begin(), it->second.end(), id) !=
               it->second.end();
  };
  auto least_loaded = [&](const std::pair<std::string, int32_t>& key) {
    MemberId best = -1;
    for (MemberId id : eligible.at(key)) {
      if (best < 0 || load[id] < load[best] ||
          (load[id] == load[best] && id < best)) {
        best = id;
      }
    }
    return best;
  };
  // Sticky: a partition stays with its member while that one may read it.
  for (auto& [key, slot] : slots) {
    if (slot.target >= 0 && may_read(key, slot.target)) {
      ++load[slot.target];
    } else {
      slot.target = -1;
    }
  }
  for (auto& [key, slot] : slots) {
    if (slot.target < 0 && eligible.contains(key)) {
      slot.target = least_loaded(key);
      ++load[slot.target];
    }
  }
  // Balanced: move partitions off members holding two more than another
  // that may read them. Each move lowers the sum of squared loads, so this
  // ends.
  for (bool moved = true; moved;) {
    moved = false;
    for (auto& [key, slot] : slots) {
      if (slot.target < 0) continue;
      const MemberId best = least_loaded(key);
      if (load[slot.target] > load[best] + 1) {
        --load[slot.target];
        ++load[best];
        slot.target = best;
        moved = true;
      }
    }
  }
}

}  // namespace strata::eventlog
