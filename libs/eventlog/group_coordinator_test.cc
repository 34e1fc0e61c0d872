#include "libs/eventlog/group_coordinator.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "gtest/gtest.h"

namespace strata::eventlog {
namespace {

std::vector<TopicPartition> Partitions(const std::string& topic, int count) {
  std::vector<TopicPartition> out;
  for (int p = 0; p < count; ++p) out.push_back({topic, p});
  return out;
}

std::set<int32_t> Numbers(const std::vector<TopicPartition>& tps) {
  std::set<int32_t> out;
  for (const TopicPartition& tp : tps) out.insert(tp.partition);
  return out;
}

class GroupCoordinatorTest : public ::testing::Test {
 protected:
  // Carries out a member's moves, as its polling thread would; returns
  // what it claimed.
  std::set<int32_t> Settle(GroupCoordinator::MemberId member) {
    groups_.Released(member, groups_.MovesFor(member).revoke);
    return Numbers(groups_.Claim(member));
  }

  std::atomic<int> wakes_{0};
  GroupCoordinator groups_{[this] { ++wakes_; }};
};

TEST_F(GroupCoordinatorTest, ALoneMemberReadsEveryPartition) {
  const auto a = groups_.Join("g", Partitions("t", 4));
  EXPECT_GT(wakes_.load(), 0);
  EXPECT_EQ(Settle(a), (std::set<int32_t>{0, 1, 2, 3}));
  EXPECT_TRUE(groups_.MovesFor(a).empty());
}

TEST_F(GroupCoordinatorTest, AJoiningMemberGetsHalfOnlyOnceTheOwnerReleasedIt) {
  const auto a = groups_.Join("g", Partitions("t", 4));
  Settle(a);
  const auto b = groups_.Join("g", Partitions("t", 4));

  // Nothing moves to b before a gave it up: never two readers at once.
  EXPECT_TRUE(groups_.MovesFor(b).assign.empty());
  GroupCoordinator::Moves from_a = groups_.MovesFor(a);
  EXPECT_TRUE(from_a.assign.empty());
  ASSERT_EQ(from_a.revoke.size(), 2u);  // Cooperative: only what moves.
  groups_.Released(a, from_a.revoke);

  EXPECT_EQ(Settle(b), Numbers(from_a.revoke));
  EXPECT_TRUE(groups_.MovesFor(a).empty());
  EXPECT_TRUE(groups_.MovesFor(b).empty());
}

TEST_F(GroupCoordinatorTest, ThreeMembersOfFourPartitionsHoldTwoOneAndOne) {
  std::vector<GroupCoordinator::MemberId> members;
  std::vector<std::set<int32_t>> held(3);
  for (int i = 0; i < 3; ++i) {
    members.push_back(groups_.Join("g", Partitions("t", 4)));
    for (int round = 0; round < 2; ++round) {
      for (int m = 0; m <= i; ++m) {
        GroupCoordinator::Moves moves = groups_.MovesFor(members[m]);
        for (int32_t p : Numbers(moves.revoke)) held[m].erase(p);
        groups_.Released(members[m], moves.revoke);
      }
      for (int m = 0; m <= i; ++m) {
        for (int32_t p : Settle(members[m])) held[m].insert(p);
      }
    }
  }
  std::vector<size_t> sizes;
  std::set<int32_t> all;
  for (const auto& h : held) {
    sizes.push_back(h.size());
    all.insert(h.begin(), h.end());
  }
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 1, 2}));
  EXPECT_EQ(all.size(), 4u);
}

TEST_F(GroupCoordinatorTest, ALeavingMembersPartitionsGoToTheRest) {
  const auto a = groups_.Join("g", Partitions("t", 4));
  Settle(a);
  const auto b = groups_.Join("g", Partitions("t", 4));
  groups_.Released(a, groups_.MovesFor(a).revoke);
  const std::set<int32_t> b_held = Settle(b);

  groups_.Leave(b);
  EXPECT_EQ(Settle(a), b_held);
  EXPECT_TRUE(groups_.MovesFor(b).empty());  // Gone: nothing to do.
}

TEST_F(GroupCoordinatorTest, GroupsAndTopicsAreKeptApart) {
  const auto a = groups_.Join("g", Partitions("t", 2));
  const auto other_group = groups_.Join("h", Partitions("t", 2));
  const auto other_topic = groups_.Join("g", Partitions("u", 2));
  EXPECT_EQ(Settle(a), (std::set<int32_t>{0, 1}));
  EXPECT_EQ(Settle(other_group), (std::set<int32_t>{0, 1}));
  GroupCoordinator::Moves moves = groups_.MovesFor(other_topic);
  ASSERT_EQ(moves.assign.size(), 2u);
  EXPECT_EQ(moves.assign[0].topic, "u");
  EXPECT_TRUE(groups_.MovesFor(a).revoke.empty());
}

// Members on threads of their own join, carry out their moves and leave,
// over and over, as consumers polling on their threads do; at no moment may
// two of them read one partition.
TEST(GroupCoordinatorRaceTest, NoTwoMembersEverReadOnePartition) {
  GroupCoordinator groups([] {});
  std::mutex mu;
  std::map<int32_t, int> reader;  // Partition -> the thread reading it.
  std::atomic<int> overlaps{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int round = 0; round < 150; ++round) {
        const auto me = groups.Join("g", Partitions("t", 8));
        std::set<int32_t> reading;
        for (int step = 0; step < 1 + static_cast<int>(rng() % 20); ++step) {
          const std::vector<TopicPartition> revoke = groups.MovesFor(me).revoke;
          {
            std::lock_guard<std::mutex> lock(mu);
            for (const TopicPartition& tp : revoke) {
              reader.erase(tp.partition);
              reading.erase(tp.partition);
            }
          }
          groups.Released(me, revoke);
          const std::vector<TopicPartition> taken = groups.Claim(me);
          // The listener restores their state meanwhile.
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
          std::lock_guard<std::mutex> lock(mu);
          for (const TopicPartition& tp : taken) {
            if (reader.count(tp.partition) > 0) ++overlaps;
            reader[tp.partition] = t;
            reading.insert(tp.partition);
          }
        }
        {
          std::lock_guard<std::mutex> lock(mu);
          for (int32_t p : reading) reader.erase(p);
        }
        groups.Leave(me);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(overlaps.load(), 0) << "two members read one partition at once";
}

}  // namespace
}  // namespace strata::eventlog
