#pragma once

// Consumer groups for the embedded log: the consumers of one group in one
// process share the partitions they subscribe to, as Kafka's group
// coordinator with the cooperative-sticky assignor shares them among
// processes. Threads play the part of instances.
//
// Each member's polling thread asks what it must do (Moves): first it gives
// up what is going elsewhere (Released), then it claims what is now its own
// (Claim). A partition is claimable only once the old owner released it, so
// no two members ever read it at once.
//
//   GroupCoordinator groups(wake_pollers);
//   MemberId me = groups.Join("strata-rollup", partitions_of_my_topics);
//   ... hand over groups.MovesFor(me).revoke; groups.Released(me, revoked);
//   std::vector<TopicPartition> mine = groups.Claim(me);  // then restore
//   groups.Leave(me);
//
// Thread-safe.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "libs/eventlog/event_log.h"

namespace strata::eventlog {

class GroupCoordinator {
 public:
  using MemberId = int64_t;

  // What a member must do before it reads on.
  struct Moves {
    std::vector<TopicPartition> revoke;  // Owned, now targeted elsewhere.
    std::vector<TopicPartition> assign;  // Targeted here, claimable.
    bool empty() const { return revoke.empty() && assign.empty(); }
  };

  // `wake` is called after every change that may give a member moves, so
  // that a member waiting for records polls again.
  explicit GroupCoordinator(std::function<void()> wake)
      : wake_(std::move(wake)) {}

  // Adds a member reading `partitions` (those of the topics it subscribes
  // to) and rebalances its group.
  MemberId Join(const std::string& group,
                const std::vector<TopicPartition>& partitions);
  // Removes the member, releasing what it owned, and rebalances.
  void Leave(MemberId member);

  Moves MovesFor(MemberId member) const;
  void Released(MemberId member, const std::vector<TopicPartition>& released);
  // Makes the member the owner of every partition targeted at it that
  // nobody owns, and returns them: at once, so that a rebalance in between
  // cannot offer them to another member too.
  std::vector<TopicPartition> Claim(MemberId member);

 private:
  struct Member {
    std::string group;
    std::vector<TopicPartition> subscribed;
  };
  // A partition's member by target (who should read it) and owner (who
  // does); they differ while it moves.
  struct Slot {
    MemberId target = -1;
    MemberId owner = -1;
  };
  using Slots = absl::btree_map<std::pair<std::string, int32_t>, Slot>;

  // Recomputes the group's targets: balanced (counts differ by at most one
  // between members subscribed alike), keeping partitions where they are
  // whenever balance allows.
  void Rebalance(const std::string& group)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::function<void()> wake_;
  mutable absl::Mutex mu_;
  MemberId next_member_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<MemberId, Member> members_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Slots> groups_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::eventlog
