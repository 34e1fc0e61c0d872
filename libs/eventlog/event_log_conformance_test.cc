// One suite, run against every backend: whatever a service relies on of the
// log must hold for the embedded log and for Kafka alike.

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/eventlog/event_log.h"
#include "libs/eventlog/kafka_event_log.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/eventlog/testing/fault_injecting_event_log.h"
#include "libs/eventlog/testing/kafka_mock_cluster.h"
#include "libs/status/status_macros.h"
#include "libs/status/status_matchers.h"

namespace strata::eventlog {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

const std::map<std::string, int32_t> kTopics = {{"events", 4}, {"single", 1}};

// Opens a fresh log of one backend; Reopen() opens the same data again.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual absl::StatusOr<std::unique_ptr<EventLog>> Open() = 0;
  // Makes the broker fail the next `count` produce requests with a
  // retriable error, which the backend's producer retries inside Append.
  // False for a backend without a broker: the embedded log writes locally,
  // once, and never retries by itself.
  virtual bool FailNextProduceRequests(int count) { return false; }
  // Moves a partition's leadership to another broker; false for a backend
  // without brokers.
  virtual bool MoveLeader(const std::string& topic, int32_t partition) {
    return false;
  }
  // Puts `group`'s coordinator on a broker that leads no partition, so
  // that it can go down alone; false for a backend without brokers.
  virtual bool IsolateCoordinator(const std::string& group) { return false; }
  virtual void SetCoordinatorUp(bool up) {}
};

class EmbeddedBackend : public Backend {
 public:
  EmbeddedBackend() {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_log_", getpid(), "_", counter_++);
    std::filesystem::remove_all(dir_);
  }
  ~EmbeddedBackend() override { std::filesystem::remove_all(dir_); }
  absl::StatusOr<std::unique_ptr<EventLog>> Open() override {
    RocksDbEventLogOptions options;
    options.path = (dir_ / "nested" / "log").string();
    options.topics = kTopics;
    return OpenRocksDbEventLog(options);
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

class KafkaBackend : public Backend {
 public:
  KafkaBackend() {
    auto cluster = KafkaMockCluster::Start(3);
    EXPECT_OK(cluster);
    cluster_ = std::move(cluster).value();
    for (const auto& [topic, partitions] : kTopics) {
      EXPECT_OK(cluster_->CreateTopic(topic, partitions));
    }
  }
  absl::StatusOr<std::unique_ptr<EventLog>> Open() override {
    KafkaEventLogOptions options;
    options.brokers = cluster_->bootstrap_servers();
    options.fetch_wait_max_ms = 10;
    options.linger_ms = 1;
    // The mock makes a member joining a stable group wait about this long.
    options.group_session_timeout = absl::Seconds(6);
    return OpenKafkaEventLog(options);
  }
  bool FailNextProduceRequests(int count) override {
    cluster_->FailNextProduceRequests(count);
    return true;
  }
  bool MoveLeader(const std::string& topic, int32_t partition) override {
    leader_ = leader_ % 3 + 1;
    EXPECT_OK(cluster_->SetPartitionLeader(topic, partition, leader_));
    return true;
  }
  bool IsolateCoordinator(const std::string& group) override {
    for (const auto& [topic, partitions] : kTopics) {
      for (int32_t p = 0; p < partitions; ++p) {
        EXPECT_OK(cluster_->SetPartitionLeader(topic, p, 1 + p % 2));
      }
    }
    cluster_->SetGroupCoordinator(group, kCoordinator);
    return true;
  }
  void SetCoordinatorUp(bool up) override {
    cluster_->SetBrokerUp(kCoordinator, up);
  }

 private:
  static constexpr int kCoordinator = 3;
  std::unique_ptr<KafkaMockCluster> cluster_;
  int leader_ = 1;
};

using BackendFactory = std::function<std::unique_ptr<Backend>()>;

class EventLogConformanceTest
    : public ::testing::TestWithParam<std::pair<std::string, BackendFactory>> {
 protected:
  void SetUp() override {
    backend_ = GetParam().second();
    auto log = backend_->Open();
    ASSERT_OK(log);
    log_ = std::move(log).value();
  }

  std::unique_ptr<LogConsumer> Consumer(const std::string& group) {
    auto consumer = log_->NewConsumer(group);
    EXPECT_OK(consumer);
    return std::move(consumer).value();
  }

  // Polls until `count` records arrived or five seconds of empty polls.
  std::vector<LogRecord> ReadN(LogConsumer& consumer, size_t count) {
    std::vector<LogRecord> out;
    int empty_polls = 0;
    while (out.size() < count && empty_polls < 50) {
      auto batch = consumer.Poll(count - out.size(), absl::Milliseconds(100));
      EXPECT_OK(batch);
      if (!batch.ok() || batch->empty()) {
        ++empty_polls;
        continue;
      }
      for (auto& r : *batch) out.push_back(std::move(r));
    }
    return out;
  }

  std::vector<Position> AllFromStart(const std::string& topic) {
    std::vector<Position> positions;
    for (int32_t p = 0; p < kTopics.at(topic); ++p) {
      positions.push_back({{topic, p}, 0});
    }
    return positions;
  }

  // How many records "events" holds at `offset` or later, all partitions.
  size_t RecordsFrom(int64_t offset) {
    size_t count = 0;
    for (const Position& p : AllFromStart("events")) {
      const int64_t end = *log_->EndOffset(p.topic_partition);
      count += static_cast<size_t>(std::max<int64_t>(end - offset, 0));
    }
    return count;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<EventLog> log_;
  std::map<int32_t, int64_t> hand_over_;  // For group members' tests.
};

TEST_P(EventLogConformanceTest, ReportsPartitionCounts) {
  EXPECT_EQ(*log_->PartitionCount("events"), 4);
  EXPECT_EQ(*log_->PartitionCount("single"), 1);
}

TEST_P(EventLogConformanceTest, AppendedRecordsReadBackInOrder) {
  std::vector<AppendRecord> records;
  for (int i = 0; i < 20; ++i) {
    records.push_back({"k", absl::StrCat("v", i)});
  }
  ASSERT_OK(log_->Append("single", records));
  auto consumer = Consumer("g");
  ASSERT_OK(consumer->Assign({{{"single", 0}, 0}}));
  std::vector<LogRecord> read = ReadN(*consumer, 20);
  ASSERT_EQ(read.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(read[i].offset, i);
    EXPECT_EQ(read[i].key, "k");
    EXPECT_EQ(read[i].value, absl::StrCat("v", i));
    EXPECT_EQ(read[i].topic_partition, (TopicPartition{"single", 0}));
    EXPECT_GT(read[i].timestamp_ms, 0);
  }
  EXPECT_EQ(*log_->EndOffset({"single", 0}), 20);
  EXPECT_EQ(*log_->StartOffset({"single", 0}), 0);
}

TEST_P(EventLogConformanceTest, AnEmptyPartitionStartsAndEndsAtZero) {
  EXPECT_EQ(*log_->StartOffset({"events", 2}), 0);
  EXPECT_EQ(*log_->EndOffset({"events", 2}), 0);
}

TEST_P(EventLogConformanceTest, KeysPickTheSharedPartitionerAndExplicitWins) {
  std::vector<AppendRecord> records;
  for (int i = 0; i < 40; ++i) records.push_back({absl::StrCat("key", i), "v"});
  records.push_back({"pinned", "explicit", 3});
  ASSERT_OK(log_->Append("events", records));
  auto consumer = Consumer("g");
  ASSERT_OK(consumer->Assign(AllFromStart("events")));
  std::vector<LogRecord> read = ReadN(*consumer, records.size());
  ASSERT_EQ(read.size(), records.size());
  std::set<int32_t> used;
  for (const LogRecord& r : read) {
    if (r.key == "pinned") {
      EXPECT_EQ(r.topic_partition.partition, 3);
    } else {
      EXPECT_EQ(r.topic_partition.partition, PartitionForKey(r.key, 4))
          << r.key;
    }
    used.insert(r.topic_partition.partition);
  }
  EXPECT_EQ(used.size(), 4u) << "40 keys should spread over all partitions";
}

TEST_P(EventLogConformanceTest, UnknownTopicIsNotFound) {
  EXPECT_THAT(log_->Append("no-such-topic", {AppendRecord{"k", "v"}}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log_->PartitionCount("no-such-topic"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(EventLogConformanceTest, OutOfRangePartitionIsRejectedWhole) {
  EXPECT_THAT(log_->Append("single",
                           {AppendRecord{"a", "1"}, AppendRecord{"b", "2", 7}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(*log_->EndOffset({"single", 0}), 0);
}

TEST_P(EventLogConformanceTest, ReadsFromAGivenOffset) {
  std::vector<AppendRecord> records;
  for (int i = 0; i < 10; ++i) records.push_back({"k", absl::StrCat(i)});
  ASSERT_OK(log_->Append("single", records));
  auto consumer = Consumer("g");
  ASSERT_OK(consumer->Assign({{{"single", 0}, 7}}));
  std::vector<LogRecord> read = ReadN(*consumer, 3);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].offset, 7);
  EXPECT_EQ(read[0].value, "7");
  EXPECT_EQ(read[2].value, "9");
}

// A partition whose leader moved (a broker failed, an election) is still
// appended to, read, and asked for its offsets: nothing keeps asking the
// broker that led it.
TEST_P(EventLogConformanceTest, APartitionWhoseLeaderMovedStillAnswers) {
  ASSERT_OK(log_->Append("single", {AppendRecord{"k", "before"}}));
  EXPECT_EQ(*log_->EndOffset({"single", 0}), 1);
  for (int move = 0; move < 3; ++move) {
    if (!backend_->MoveLeader("single", 0)) break;
    absl::StatusOr<int64_t> end = log_->EndOffset({"single", 0});
    ASSERT_OK(end);
    EXPECT_EQ(*end, 1 + move);
    ASSERT_OK(log_->Append("single", {AppendRecord{"k", absl::StrCat(move)}}));
  }
  auto consumer = Consumer("g");
  ASSERT_OK(consumer->Assign({{{"single", 0}, 0}}));
  const size_t expected = static_cast<size_t>(*log_->EndOffset({"single", 0}));
  EXPECT_EQ(ReadN(*consumer, expected).size(), expected);
}

TEST_P(EventLogConformanceTest, RecordsBehindIsWhatPollHasNotReturned) {
  std::vector<AppendRecord> records;
  for (int i = 0; i < 10; ++i) records.push_back({"k", absl::StrCat(i)});
  ASSERT_OK(log_->Append("single", records));
  auto consumer = Consumer("g");
  ASSERT_OK(consumer->Assign({{{"single", 0}, 2}}));
  ASSERT_EQ(ReadN(*consumer, 3).size(), 3u);
  EXPECT_EQ(consumer->RecordsBehind(), 5);
  ASSERT_EQ(ReadN(*consumer, 5).size(), 5u);
  EXPECT_EQ(consumer->RecordsBehind(), 0);
  ASSERT_OK(log_->Append("single", records));
  // The end is learnt from the next fetch (Kafka) or at once (embedded).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  int64_t behind = 0;
  while ((behind = consumer->RecordsBehind()) == 0 && absl::Now() < deadline) {
    ASSERT_OK(consumer->Poll(1, absl::Milliseconds(50)).status());
  }
  EXPECT_GT(behind, 0);
  EXPECT_LE(behind, 10);
}

TEST_P(EventLogConformanceTest, EmptyPollReturnsNothing) {
  auto consumer = Consumer("g");
  ASSERT_OK(consumer->Assign({{{"single", 0}, 0}}));
  auto batch = consumer->Poll(10, absl::Milliseconds(50));
  ASSERT_OK(batch);
  EXPECT_TRUE(batch->empty());
}

TEST_P(EventLogConformanceTest, TailingConsumerSeesLaterAppends) {
  auto consumer = Consumer("g");
  ASSERT_OK(consumer->Assign({{{"single", 0}, 0}}));
  std::thread writer([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_OK(log_->Append("single", {AppendRecord{"k", "late"}}));
  });
  std::vector<LogRecord> read = ReadN(*consumer, 1);
  writer.join();
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].value, "late");
}

TEST_P(EventLogConformanceTest, CommittedPositionsArePerGroupAndDurable) {
  ASSERT_OK(log_->Append("events", {AppendRecord{"k", "v"}}));
  {
    auto consumer = Consumer("group-a");
    EXPECT_EQ(*consumer->Committed({"events", 2}), kNoOffset);
    ASSERT_OK(consumer->Assign(AllFromStart("events")));
    ASSERT_OK(consumer->Commit({{{"events", 2}, 42}, {{"events", 0}, 1}}));
  }
  auto same_group = Consumer("group-a");
  EXPECT_EQ(*same_group->Committed({"events", 2}), 42);
  EXPECT_EQ(*same_group->Committed({"events", 0}), 1);
  auto other_group = Consumer("group-b");
  EXPECT_EQ(*other_group->Committed({"events", 2}), kNoOffset);
}

TEST_P(EventLogConformanceTest, ConcurrentAppendsLoseAndRepeatNothing) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([this, t] {
      for (int i = 0; i < kPerThread; i += 50) {
        std::vector<AppendRecord> batch;
        for (int j = i; j < i + 50; ++j) {
          batch.push_back({absl::StrCat(t, "-", j), absl::StrCat(t, "-", j)});
        }
        EXPECT_OK(log_->Append("events", batch));
      }
    });
  }
  for (auto& w : writers) w.join();
  auto consumer = Consumer("g");
  ASSERT_OK(consumer->Assign(AllFromStart("events")));
  std::vector<LogRecord> read = ReadN(*consumer, kThreads * kPerThread);
  std::set<std::string> values;
  std::map<int32_t, int64_t> next_offset;
  for (const LogRecord& r : read) {
    values.insert(r.value);
    // Offsets within a partition are dense and increasing.
    EXPECT_EQ(r.offset, next_offset[r.topic_partition.partition]++);
  }
  EXPECT_EQ(read.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(values.size(), size_t{kThreads * kPerThread});
}

// A retry writes a record again only when the caller repeats a call that
// had landed, and then the whole call, in order.
// - Kafka: the broker fails three produce requests; the idempotent producer
//   retries them inside Append, which succeeds with each record written once.
// - Embedded: the log never retries by itself, so the retry is the caller's.
//   The first Append lands yet reports UNAVAILABLE (injected; a WAL sync that
//   fails after the write can leave the same doubt) and the caller appends
//   again. The contract applies each call all-or-nothing and promises no
//   de-duplication across calls: the log holds two whole copies, which the
//   records' event ids (here their values) let readers drop.
TEST_P(EventLogConformanceTest, RetriedAppendsRepeatOnlyWholeCallsThatLanded) {
  std::vector<AppendRecord> records;
  for (int i = 0; i < 10; ++i) records.push_back({"k", absl::StrCat(i)});
  int calls_landed = 1;
  if (backend_->FailNextProduceRequests(3)) {
    ASSERT_OK(log_->Append("single", records));
  } else {
    FaultInjectingEventLog faulty(*log_);
    faulty.FailAppends(FaultInjectingEventLog::Fault::Next(1).AfterTheCall());
    const absl::Status first = faulty.Append("single", records);
    ASSERT_THAT(first, StatusIs(absl::StatusCode::kUnavailable));
    ASSERT_EQ(faulty.injected(FaultInjectingEventLog::Operation::kAppend), 1);
    const absl::Status retried = faulty.Append("single", records);
    ASSERT_OK(retried);
    calls_landed = 2;
  }
  const size_t expected = 10u * calls_landed;
  EXPECT_EQ(*log_->EndOffset({"single", 0}), static_cast<int64_t>(expected));
  auto consumer = Consumer("g");
  ASSERT_OK(consumer->Assign({{{"single", 0}, 0}}));
  std::vector<LogRecord> read = ReadN(*consumer, expected);
  ASSERT_EQ(read.size(), expected);
  std::set<std::string> distinct;
  for (size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].offset, static_cast<int64_t>(i));
    EXPECT_EQ(read[i].value, absl::StrCat(i % 10))
        << "copy " << i / 10 << " is not the whole call in order";
    distinct.insert(read[i].value);
  }
  EXPECT_EQ(distinct.size(), 10u);
  auto more = consumer->Poll(10, absl::Milliseconds(200));
  ASSERT_OK(more);
  EXPECT_TRUE(more->empty())
      << "a retry appended records beyond the calls that landed";
}

// Where members hand partitions over to each other, as Strata's services
// do through their state (a changelog they restore from): partition -> the
// next offset to read.
using HandOver = std::map<int32_t, int64_t>;

// A member of a consumer group as a test drives it: what its listener was
// told, and what it read. Revoked partitions are handed over where their
// next owner resumes from; a partition never handed over starts at
// `start_at_` (kNoOffset: the group's committed position).
class GroupMember final : public RebalanceListener {
 public:
  GroupMember(std::unique_ptr<LogConsumer> consumer, HandOver* hand_over)
      : hand_over_(hand_over), consumer_(std::move(consumer)) {}
  // Leaves the group, which calls Revoked from inside the consumer's
  // destructor.
  ~GroupMember() override { consumer_.reset(); }

  void Revoked(const std::vector<TopicPartition>& partitions) override {
    for (const TopicPartition& tp : partitions) {
      EXPECT_EQ(owned_.erase(tp.partition), 1u)
          << "revoked partition " << tp.partition << " it did not own";
      ++revoked_;
      if (next_.count(tp.partition) > 0) {
        (*hand_over_)[tp.partition] = next_[tp.partition];
      }
    }
  }

  void Lost(const std::vector<TopicPartition>& partitions) override {
    for (const TopicPartition& tp : partitions) owned_.erase(tp.partition);
    if (!may_lose_) {
      ADD_FAILURE() << "lost partitions in a test that never stalls a member";
    }
  }

  absl::StatusOr<std::vector<Position>> Assigned(
      const std::vector<TopicPartition>& partitions) override {
    if (!refusal_.ok()) return refusal_;
    std::vector<Position> positions;
    for (const TopicPartition& tp : partitions) {
      EXPECT_TRUE(owned_.insert(tp.partition).second)
          << "assigned partition " << tp.partition << " twice";
      auto handed = hand_over_->find(tp.partition);
      positions.push_back(
          {tp, handed != hand_over_->end() ? handed->second : start_at_});
    }
    return positions;
  }

  absl::Status Poll() {
    ASSIGN_OR_RETURN(std::vector<LogRecord> batch,
                     consumer_->Poll(100, absl::Milliseconds(20)));
    for (LogRecord& r : batch) {
      EXPECT_TRUE(owned_.count(r.topic_partition.partition) > 0)
          << "read partition " << r.topic_partition.partition
          << " it does not own";
      next_[r.topic_partition.partition] = r.offset + 1;
      read_.push_back(std::move(r));
    }
    if (commit_as_it_reads_) {
      // As Strata's stages report their positions: a commit refused now is
      // made again with the next poll.
      std::vector<Position> positions;
      for (int32_t p : owned_) {
        if (auto it = next_.find(p); it != next_.end()) {
          positions.push_back({{"events", p}, it->second});
        }
      }
      if (!positions.empty()) consumer_->Commit(positions).IgnoreError();
    }
    return absl::OkStatus();
  }

  LogConsumer& consumer() { return *consumer_; }
  const std::set<int32_t>& owned() const { return owned_; }
  const std::vector<LogRecord>& read() const { return read_; }
  int revoked() const { return revoked_; }
  void StartAt(int64_t offset) { start_at_ = offset; }
  void Refuse(absl::Status refusal) { refusal_ = std::move(refusal); }
  void CommitAsItReads() { commit_as_it_reads_ = true; }
  void MayLose() { may_lose_ = true; }

 private:
  std::set<int32_t> owned_;
  std::map<int32_t, int64_t> next_;
  std::vector<LogRecord> read_;
  int revoked_ = 0;
  int64_t start_at_ = kNoOffset;
  absl::Status refusal_;
  bool commit_as_it_reads_ = false;
  bool may_lose_ = false;
  HandOver* const hand_over_;
  std::unique_ptr<LogConsumer> consumer_;  // Last: it calls the above.
};

// Polls every member in turn until `done` or a minute passed (Kafka's
// rebalances take seconds).
bool PollUntil(const std::vector<GroupMember*>& members,
               const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  while (absl::Now() < deadline) {
    std::map<int32_t, int> owners;  // Never two members at once.
    for (GroupMember* m : members) {
      EXPECT_OK(m->Poll());
      for (int32_t p : m->owned()) {
        if (++owners[p] > 1) ADD_FAILURE() << "two members own " << p;
      }
    }
    if (done()) return true;
  }
  return false;
}

// Every value read by the members, with how often it was read.
std::map<std::string, int> ReadCounts(
    const std::vector<GroupMember*>& members) {
  std::map<std::string, int> counts;
  for (GroupMember* m : members) {
    for (const LogRecord& r : m->read()) ++counts[r.value];
  }
  return counts;
}

void AppendNumbered(EventLog& log, int from, int to) {
  std::vector<AppendRecord> records;
  for (int i = from; i < to; ++i) {
    records.push_back({absl::StrCat("k", i), absl::StrCat(i)});
  }
  ASSERT_OK(log.Append("events", records));
}

TEST_P(EventLogConformanceTest, GroupMembersSharePartitionsReadingEachOnce) {
  AppendNumbered(*log_, 0, 40);
  GroupMember a(Consumer("shared"), &hand_over_);
  ASSERT_OK(a.consumer().Subscribe({"events"}, a));
  ASSERT_TRUE(PollUntil({&a}, [&] {
    return a.owned().size() == 4 && a.read().size() == 40;
  }));

  GroupMember b(Consumer("shared"), &hand_over_);
  ASSERT_OK(b.consumer().Subscribe({"events"}, b));
  ASSERT_TRUE(PollUntil({&a, &b}, [&] {
    return a.owned().size() == 2 && b.owned().size() == 2;
  })) << "a owns " << a.owned().size() << ", b " << b.owned().size();
  // Cooperative: a gave up only what b got, and kept reading the rest.
  EXPECT_EQ(a.revoked(), 2);

  AppendNumbered(*log_, 40, 100);
  ASSERT_TRUE(PollUntil({&a, &b}, [&] {
    return ReadCounts({&a, &b}).size() == 100;
  }));
  for (const auto& [value, count] : ReadCounts({&a, &b})) {
    EXPECT_EQ(count, 1) << "record " << value << " read " << count << " times";
  }
  EXPECT_GT(b.read().size(), 0u);
}

// Members commit their positions as they read, through rebalances, as
// Strata's stages do. A commit the coordinator answers only after it
// elected the next generation is refused as of an illegal generation, and
// librdkafka then counts the member's whole assignment lost, and fails its
// next commit alike: the group rebalanced again and again, and never
// settled. Members keep their partitions, and the group settles.
TEST_P(EventLogConformanceTest,
       MembersCommittingAsTheyReadKeepTheirPartitionsThroughRebalances) {
  AppendNumbered(*log_, 0, 40);
  GroupMember a(Consumer("committing"), &hand_over_);
  GroupMember b(Consumer("committing"), &hand_over_);
  GroupMember c(Consumer("committing"), &hand_over_);
  for (GroupMember* m : {&a, &b, &c}) m->CommitAsItReads();
  ASSERT_OK(a.consumer().Subscribe({"events"}, a));
  ASSERT_TRUE(PollUntil({&a}, [&] { return a.owned().size() == 4; }));
  ASSERT_OK(b.consumer().Subscribe({"events"}, b));
  ASSERT_TRUE(PollUntil({&a, &b}, [&] {
    return a.owned().size() == 2 && b.owned().size() == 2;
  }));
  ASSERT_OK(c.consumer().Subscribe({"events"}, c));
  // Records keep coming, five a second, as the group moves partitions.
  int appended = 40;
  absl::Time next_append = absl::Now();
  auto keep_appending = [&] {
    if (absl::Now() < next_append) return;
    AppendNumbered(*log_, appended, appended + 1);
    ++appended;
    next_append = absl::Now() + absl::Milliseconds(200);
  };
  auto all_owned_and_read = [&] {
    return !c.owned().empty() &&
           a.owned().size() + b.owned().size() + c.owned().size() == 4 &&
           ReadCounts({&a, &b, &c}).size() == static_cast<size_t>(appended);
  };
  ASSERT_TRUE(PollUntil({&a, &b, &c}, [&] {
    keep_appending();
    return all_owned_and_read();
  })) << "a owns " << a.owned().size() << ", b " << b.owned().size()
      << ", c " << c.owned().size();
  // Settled: nothing moves for longer than a rebalance takes.
  const int moved = a.revoked() + b.revoked() + c.revoked();
  const absl::Time until = absl::Now() + absl::Seconds(10);
  PollUntil({&a, &b, &c}, [&] {
    keep_appending();
    return absl::Now() > until;
  });
  ASSERT_TRUE(PollUntil({&a, &b, &c}, all_owned_and_read));
  EXPECT_EQ(a.revoked() + b.revoked() + c.revoked(), moved);
  EXPECT_EQ(a.owned().size() + b.owned().size() + c.owned().size(), 4u);
  for (const auto& [value, count] : ReadCounts({&a, &b, &c})) {
    EXPECT_EQ(count, 1) << "record " << value << " read " << count << " times";
  }
}

// A member's commits reach its group while it keeps its partitions, not
// only when it hands them over: lag and back-pressure read them there.
TEST_P(EventLogConformanceTest, AMembersCommitsReachItsGroupWhileItReads) {
  AppendNumbered(*log_, 0, 40);
  GroupMember a(Consumer("reporting"), &hand_over_);
  a.CommitAsItReads();
  ASSERT_OK(a.consumer().Subscribe({"events"}, a));
  auto observer = Consumer("reporting");
  auto all_committed = [&] {
    for (int32_t p = 0; p < 4; ++p) {
      auto committed = observer->Committed({"events", p});
      auto end = log_->EndOffset({"events", p});
      if (!committed.ok() || !end.ok() || *committed != *end) return false;
    }
    return true;
  };
  ASSERT_TRUE(PollUntil({&a}, [&] {
    return a.read().size() == 40 && all_committed();
  })) << "read " << a.read().size();
  EXPECT_EQ(a.owned().size(), 4u);
  EXPECT_EQ(a.revoked(), 0);
}

// A member its coordinator stops hearing knows, before the coordinator
// could drop it, that its partitions may be another's (a zombie that went
// on publishing beside their next owner sent versions backwards on the
// changelog), and counts on them again once it joined again.
TEST_P(EventLogConformanceTest, AMemberUnheardByItsCoordinatorStopsCountingOnItsPartitions) {
  AppendNumbered(*log_, 0, 40);
  const bool isolated = backend_->IsolateCoordinator("unheard");
  GroupMember a(Consumer("unheard"), &hand_over_);
  a.MayLose();
  ASSERT_OK(a.consumer().Subscribe({"events"}, a));
  ASSERT_TRUE(PollUntil({&a}, [&] {
    return a.owned().size() == 4 && a.consumer().CheckMembership().ok();
  })) << "owns " << a.owned().size() << ": " << a.consumer().CheckMembership();
  if (!isolated) return;  // One process: no coordinator to lose.
  backend_->SetCoordinatorUp(false);
  absl::Status member;
  ASSERT_TRUE(PollUntil({&a}, [&] {
    member = a.consumer().CheckMembership();
    return !member.ok();
  }));
  EXPECT_THAT(member, StatusIs(absl::StatusCode::kUnavailable,
                               HasSubstr("may be another member's")));
  backend_->SetCoordinatorUp(true);
  ASSERT_TRUE(PollUntil({&a}, [&] {
    return a.owned().size() == 4 && a.consumer().CheckMembership().ok();
  })) << a.consumer().CheckMembership();
}

TEST_P(EventLogConformanceTest, AMemberReadsFromThePositionsItChose) {
  AppendNumbered(*log_, 0, 40);
  GroupMember a(Consumer("chosen"), &hand_over_);
  a.StartAt(3);
  ASSERT_OK(a.consumer().Subscribe({"events"}, a));
  ASSERT_TRUE(PollUntil({&a}, [&] {
    return a.owned().size() == 4 && a.read().size() == RecordsFrom(3);
  }));
  for (const LogRecord& r : a.read()) EXPECT_GE(r.offset, 3);
}

TEST_P(EventLogConformanceTest, AMemberWithoutPositionsResumesAtTheGroups) {
  AppendNumbered(*log_, 0, 40);
  {
    auto committer = Consumer("resuming");
    ASSERT_OK(committer->Assign(AllFromStart("events")));
    std::vector<Position> positions = AllFromStart("events");
    for (Position& p : positions) p.offset = 5;
    ASSERT_OK(committer->Commit(positions));
  }
  GroupMember a(Consumer("resuming"), &hand_over_);
  ASSERT_OK(a.consumer().Subscribe({"events"}, a));
  ASSERT_TRUE(PollUntil({&a}, [&] {
    return a.owned().size() == 4 && a.read().size() == RecordsFrom(5);
  }));
  for (const LogRecord& r : a.read()) EXPECT_GE(r.offset, 5);
}

// A stage whose processing failed reads again from what it committed,
// without leaving its group; a partition it no longer reads is ignored.
TEST_P(EventLogConformanceTest, SeekReadsAgainFromTheGivenOffset) {
  AppendNumbered(*log_, 0, 40);
  GroupMember a(Consumer("seeking"), &hand_over_);
  ASSERT_OK(a.consumer().Subscribe({"events"}, a));
  ASSERT_TRUE(PollUntil({&a}, [&] { return a.read().size() == 40; }));
  size_t in_0 = 0;
  for (const LogRecord& r : a.read()) in_0 += r.topic_partition.partition == 0;
  ASSERT_GE(in_0, 2u);
  ASSERT_OK(a.consumer().Seek({{{"events", 0}, 1}}));
  ASSERT_TRUE(PollUntil({&a}, [&] { return a.read().size() == 40 + in_0 - 1; }));
  for (size_t i = 40; i < a.read().size(); ++i) {
    EXPECT_EQ(a.read()[i].topic_partition.partition, 0);
    EXPECT_EQ(a.read()[i].offset, static_cast<int64_t>(i - 40 + 1));
  }
  // By hand too; nothing more comes after what was read again.
  auto by_hand = Consumer("seeking-by-hand");
  ASSERT_OK(by_hand->Assign({{{"single", 0}, 0}}));
  ASSERT_OK(log_->Append("single", {AppendRecord{"k", "0"}, {"k", "1"}}));
  ASSERT_EQ(ReadN(*by_hand, 2).size(), 2u);
  ASSERT_OK(by_hand->Seek({{{"single", 0}, 1}}));
  std::vector<LogRecord> again = ReadN(*by_hand, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].value, "1");
  auto more = by_hand->Poll(10, absl::Milliseconds(200));
  ASSERT_OK(more);
  EXPECT_TRUE(more->empty());
}

TEST_P(EventLogConformanceTest, ALeavingMembersPartitionsGoToTheRest) {
  AppendNumbered(*log_, 0, 40);
  GroupMember a(Consumer("leaving"), &hand_over_);
  ASSERT_OK(a.consumer().Subscribe({"events"}, a));
  ASSERT_TRUE(PollUntil({&a}, [&] { return a.owned().size() == 4; }));
  std::map<std::string, int> read_by_b;
  {
    GroupMember b(Consumer("leaving"), &hand_over_);
    ASSERT_OK(b.consumer().Subscribe({"events"}, b));
    ASSERT_TRUE(PollUntil({&a, &b}, [&] {
      return b.owned().size() == 2 && ReadCounts({&a, &b}).size() == 40;
    }));
    read_by_b = ReadCounts({&b});
  }  // b leaves, committing where it was.

  AppendNumbered(*log_, 40, 60);
  ASSERT_TRUE(PollUntil({&a}, [&] {
    std::map<std::string, int> all = ReadCounts({&a});
    for (const auto& [value, count] : read_by_b) all[value] += count;
    return a.owned().size() == 4 && all.size() == 60;
  }));
  std::map<std::string, int> all = ReadCounts({&a});
  for (const auto& [value, count] : read_by_b) all[value] += count;
  for (const auto& [value, count] : all) {
    EXPECT_EQ(count, 1) << "record " << value << " read " << count << " times";
  }
}

TEST_P(EventLogConformanceTest, AMemberThatRefusesItsPartitionsLeavesTheGroup) {
  GroupMember a(Consumer("refusing"), &hand_over_);
  a.Refuse(absl::DataLossError("state store damaged"));
  ASSERT_OK(a.consumer().Subscribe({"events"}, a));
  absl::Status failed;
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  while (failed.ok() && absl::Now() < deadline) failed = a.Poll();
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_TRUE(a.owned().empty());

  GroupMember b(Consumer("refusing"), &hand_over_);
  ASSERT_OK(b.consumer().Subscribe({"events"}, b));
  EXPECT_TRUE(PollUntil({&a, &b}, [&] { return b.owned().size() == 4; }))
      << "b owns " << b.owned().size() << ": a is still a member";
}

TEST_P(EventLogConformanceTest, ARefusingMemberHandsOverWhatItHeldBefore) {
  GroupMember a(Consumer("refusing-later"), &hand_over_);
  ASSERT_OK(a.consumer().Subscribe({"events"}, a));
  ASSERT_TRUE(PollUntil({&a}, [&] { return a.owned().size() == 4; }));
  {
    GroupMember b(Consumer("refusing-later"), &hand_over_);
    ASSERT_OK(b.consumer().Subscribe({"events"}, b));
    ASSERT_TRUE(PollUntil({&a, &b}, [&] { return b.owned().size() == 2; }));
  }
  // b left: its partitions come back to a, which cannot take them now.
  a.Refuse(absl::UnavailableError("restore failed"));
  absl::Status failed;
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  while (failed.ok() && absl::Now() < deadline) failed = a.Poll();
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(a.owned().empty())
      << "a left the group still holding " << a.owned().size()
      << " partitions it was never told to hand over";
}

TEST_P(EventLogConformanceTest, AssignAndSubscribeDoNotMix) {
  GroupMember assigned(Consumer("g"), &hand_over_);
  ASSERT_OK(assigned.consumer().Assign(AllFromStart("events")));
  EXPECT_THAT(assigned.consumer().Subscribe({"events"}, assigned),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  GroupMember subscribed(Consumer("g2"), &hand_over_);
  ASSERT_OK(subscribed.consumer().Subscribe({"events"}, subscribed));
  EXPECT_THAT(subscribed.consumer().Assign(AllFromStart("events")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

INSTANTIATE_TEST_SUITE_P(
    Backends, EventLogConformanceTest,
    ::testing::Values(
        std::make_pair(std::string("Embedded"), BackendFactory([] {
                         return std::unique_ptr<Backend>(new EmbeddedBackend());
                       })),
        std::make_pair(std::string("Kafka"), BackendFactory([] {
                         return std::unique_ptr<Backend>(new KafkaBackend());
                       }))),
    [](const auto& info) { return info.param.first; });

// A cluster that is down fails appends within the delivery timeout instead
// of hanging the caller, and serves again once it is back.
TEST(KafkaEventLogTest, AppendFailsInTimeWhileTheClusterIsDownThenRecovers) {
  auto cluster = KafkaMockCluster::Start(3);
  ASSERT_OK(cluster);
  ASSERT_OK((*cluster)->CreateTopic("single", 1));
  KafkaEventLogOptions options;
  options.brokers = (*cluster)->bootstrap_servers();
  options.linger_ms = 1;
  options.delivery_timeout = absl::Seconds(2);
  options.extra_config = {{"reconnect.backoff.ms", "50"},
                          {"reconnect.backoff.max.ms", "500"}};
  auto log = OpenKafkaEventLog(options);
  ASSERT_OK(log);
  ASSERT_OK((*log)->Append("single", {AppendRecord{"k", "before"}}));

  (*cluster)->SetAllBrokersUp(false);
  absl::Status down = (*log)->Append("single", {AppendRecord{"k", "lost"}});
  EXPECT_FALSE(down.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(down) || absl::IsUnavailable(down))
      << down;

  (*cluster)->SetAllBrokersUp(true);
  absl::Status up;
  for (int attempt = 0; attempt < 10; ++attempt) {
    up = (*log)->Append("single", {AppendRecord{"k", "after"}});
    if (up.ok()) break;
  }
  EXPECT_OK(up);
}

// The embedded log keeps records, offsets and positions across a restart.
TEST(RocksDbEventLogTest, ReopenKeepsRecordsAndPositions) {
  EmbeddedBackend backend;
  {
    auto log = backend.Open();
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append("single",
                             {AppendRecord{"k", "a"}, AppendRecord{"k", "b"}}));
    auto consumer = (*log)->NewConsumer("g");
    ASSERT_OK((*consumer)->Commit({{{"single", 0}, 1}}));
  }
  auto log = backend.Open();
  ASSERT_OK(log);
  EXPECT_EQ(*(*log)->EndOffset({"single", 0}), 2);
  ASSERT_OK((*log)->Append("single", {AppendRecord{"k", "c"}}));
  EXPECT_EQ(*(*log)->EndOffset({"single", 0}), 3);
  auto consumer = (*log)->NewConsumer("g");
  EXPECT_EQ(*(*consumer)->Committed({"single", 0}), 1);
}

}  // namespace
}  // namespace strata::eventlog
