#include "libs/eventlog/rocksdb_event_log.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "libs/eventlog/end_offsets_mark.h"
#include "libs/eventlog/group_coordinator.h"
#include "libs/eventlog/rocksdb_keys.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/storage/rocksdb_status.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace strata::eventlog {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

// State shared by the log and its consumers: the database, the end offset of
// every partition and a condition variable that wakes tailing consumers.
struct SharedLog {
  std::unique_ptr<rocksdb::DB> db;
  bool sync = false;
  // One append at a time per topic: offsets are assigned in order without
  // gaps. Fixed after open.
  absl::flat_hash_map<std::string, std::unique_ptr<std::mutex>> append_mu;
  // Guards end_offset only, held briefly, so readers never wait for a write.
  std::mutex mu;
  std::condition_variable appended;
  absl::flat_hash_map<std::string, int32_t> partitions;     // Fixed after open.
  absl::flat_hash_map<TopicPartition, int64_t> end_offset;  // Guarded by mu.
  // Consumer groups of subscribed consumers; a change wakes every poller.
  GroupCoordinator groups{[this] {
    { std::lock_guard<std::mutex> lock(mu); }
    appended.notify_all();
  }};
  // Rewritten after every append, so that a log that loses acknowledged
  // records is refused at its next open. Null for a read-only use.
  std::mutex mark_mu;
  std::unique_ptr<EndOffsetsMark> mark;  // Guarded by mark_mu.
  bool mark_dirty = false;               // Guarded by mark_mu.

  // Rewrites the mark with the ends as they are now.
  void UpdateMark() {
    std::lock_guard<std::mutex> mark_lock(mark_mu);
    if (mark == nullptr) return;
    EndOffsets ends;
    {
      std::lock_guard<std::mutex> lock(mu);
      ends = end_offset;
    }
    if (absl::Status s = mark->Update(ends); !s.ok()) {
      STRATA_LOG(WARNING) << "event log: " << s;
      return;
    }
    mark_dirty = true;
  }

  absl::StatusOr<int32_t> Partitions(absl::string_view topic) const {
    auto it = partitions.find(topic);
    if (it == partitions.end()) {
      return absl::NotFoundError(
          absl::StrCat("topic '", topic, "' does not exist"));
    }
    return it->second;
  }
};

class RocksDbConsumer final : public LogConsumer {
 public:
  RocksDbConsumer(std::shared_ptr<SharedLog> log, std::string group)
      : log_(std::move(log)), group_(std::move(group)) {}

  ~RocksDbConsumer() override { LeaveGroup(); }

  absl::Status Assign(const std::vector<Position>& positions) override {
    if (member_.has_value()) {
      return absl::FailedPreconditionError(
          "consumer: Assign on a consumer that subscribed");
    }
    for (const Position& p : positions) {
      RETURN_IF_ERROR(CheckPartition(p.topic_partition));
    }
    assignment_ = positions;
    next_ = 0;
    assigned_by_hand_ = true;
    return absl::OkStatus();
  }

  absl::Status Subscribe(const std::vector<std::string>& topics,
                         RebalanceListener& listener) override {
    if (assigned_by_hand_ || member_.has_value()) {
      return absl::FailedPreconditionError(
          "consumer: Subscribe on a consumer that already reads partitions");
    }
    std::vector<TopicPartition> partitions;
    for (const std::string& topic : topics) {
      ASSIGN_OR_RETURN(int32_t n, log_->Partitions(topic));
      for (int32_t p = 0; p < n; ++p) partitions.push_back({topic, p});
    }
    listener_ = &listener;
    member_ = log_->groups.Join(group_, partitions);
    return absl::OkStatus();
  }

  absl::Status Seek(const std::vector<Position>& positions) override {
    for (const Position& p : positions) {
      RETURN_IF_ERROR(CheckPartition(p.topic_partition));
      if (p.offset < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "seek: offset ", p.offset, " in ", p.topic_partition.topic, "/",
            p.topic_partition.partition));
      }
    }
    for (const Position& p : positions) {
      for (Position& read : assignment_) {
        if (read.topic_partition == p.topic_partition) read.offset = p.offset;
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<LogRecord>> Poll(size_t max_records,
                                              absl::Duration timeout) override {
    std::vector<LogRecord> out;
    if (assignment_.empty() && !member_.has_value()) return out;
    const auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
    while (true) {
      RETURN_IF_ERROR(ApplyGroupMoves());
      // Records read before a failure are returned first (their positions
      // have advanced); the failure recurs at the next poll.
      absl::Status read = ReadAvailable(max_records, out);
      if (!out.empty()) return out;
      RETURN_IF_ERROR(read);
      std::unique_lock<std::mutex> lock(log_->mu);
      if (HasUnread() || HasGroupMoves()) continue;
      if (log_->appended.wait_until(lock, deadline) ==
              std::cv_status::timeout &&
          !HasUnread() && !HasGroupMoves()) {
        return out;
      }
    }
  }

  int64_t RecordsBehind() override {
    std::lock_guard<std::mutex> lock(log_->mu);
    int64_t behind = 0;
    for (const Position& p : assignment_) {
      auto it = log_->end_offset.find(p.topic_partition);
      if (it != log_->end_offset.end() && it->second > p.offset) {
        behind += it->second - p.offset;
      }
    }
    return behind;
  }

  absl::Status Commit(const std::vector<Position>& positions) override {
    rocksdb::WriteBatch batch;
    for (const Position& p : positions) {
      batch.Put(CommittedKey(group_, p.topic_partition),
                EncodeOffset(p.offset));
    }
    rocksdb::WriteOptions write_options;
    write_options.sync = log_->sync;
    return FromRocksDb(log_->db->Write(write_options, &batch));
  }

  absl::StatusOr<int64_t> Committed(const TopicPartition& tp) override {
    std::string value;
    rocksdb::Status s =
        log_->db->Get(rocksdb::ReadOptions(), CommittedKey(group_, tp), &value);
    if (s.IsNotFound()) return kNoOffset;
    RETURN_IF_ERROR(FromRocksDb(s));
    return DecodeOffset(value);
  }

 private:
  absl::Status CheckPartition(const TopicPartition& tp) const {
    ASSIGN_OR_RETURN(int32_t n, log_->Partitions(tp.topic));
    if (tp.partition < 0 || tp.partition >= n) {
      return absl::InvalidArgumentError(
          absl::StrCat("partition ", tp.partition, " out of range for topic '",
                       tp.topic, "'"));
    }
    return absl::OkStatus();
  }

  bool HasGroupMoves() const {
    return member_.has_value() && !log_->groups.MovesFor(*member_).empty();
  }

  // Hands over what the group moved away, then takes what it moved here.
  absl::Status ApplyGroupMoves() {
    if (!member_.has_value()) return absl::OkStatus();
    GroupCoordinator::Moves moves = log_->groups.MovesFor(*member_);
    if (!moves.revoke.empty()) {
      listener_->Revoked(moves.revoke);
      assignment_.erase(
          std::remove_if(assignment_.begin(), assignment_.end(),
                         [&](const Position& p) {
                           return absl::c_linear_search(moves.revoke,
                                                        p.topic_partition);
                         }),
          assignment_.end());
      next_ = 0;
      log_->groups.Released(*member_, moves.revoke);
    }
    const std::vector<TopicPartition> claimed = log_->groups.Claim(*member_);
    if (claimed.empty()) return absl::OkStatus();
    absl::StatusOr<std::vector<Position>> positions =
        listener_->Assigned(claimed);
    const bool listener_took = positions.ok();
    std::vector<Position> reading;
    for (const TopicPartition& tp : claimed) {
      if (!positions.ok()) break;
      Position position{tp, kNoOffset};
      for (const Position& p : *positions) {
        if (p.topic_partition == tp) position.offset = p.offset;
      }
      if (position.offset == kNoOffset) {
        absl::StatusOr<int64_t> committed = Committed(tp);
        if (!committed.ok()) {
          positions = committed.status();
          break;
        }
        position.offset = std::max<int64_t>(*committed, 0);
      }
      reading.push_back(std::move(position));
    }
    if (!positions.ok()) {
      // Not read: back to the group with them, and out of it.
      if (listener_took) listener_->Revoked(claimed);
      log_->groups.Released(*member_, claimed);
      LeaveGroup();
      return positions.status();
    }
    assignment_.insert(assignment_.end(), reading.begin(), reading.end());
    return absl::OkStatus();
  }

  // Hands over every partition still read and leaves the group.
  void LeaveGroup() {
    if (!member_.has_value()) return;
    std::vector<TopicPartition> owned;
    for (const Position& p : assignment_) owned.push_back(p.topic_partition);
    if (!owned.empty()) listener_->Revoked(owned);
    assignment_.clear();
    next_ = 0;
    log_->groups.Leave(*member_);
    member_.reset();
  }

  // Caller holds log_->mu.
  bool HasUnread() const {
    for (const Position& p : assignment_) {
      auto it = log_->end_offset.find(p.topic_partition);
      if (it != log_->end_offset.end() && it->second > p.offset) return true;
    }
    return false;
  }

  // Reads what is already there, partitions in turn from where the last
  // poll stopped, so one busy partition cannot starve the others.
  absl::Status ReadAvailable(size_t max_records, std::vector<LogRecord>& out) {
    if (assignment_.empty()) return absl::OkStatus();
    for (size_t i = 0; i < assignment_.size() && out.size() < max_records;
         ++i) {
      Position& p = assignment_[(next_ + i) % assignment_.size()];
      int64_t end;
      {
        std::lock_guard<std::mutex> lock(log_->mu);
        end = log_->end_offset[p.topic_partition];
      }
      if (p.offset >= end) continue;
      const std::string lower = RecordKey(p.topic_partition, p.offset);
      const std::string upper = RecordKey(p.topic_partition, end);
      rocksdb::Slice upper_slice(upper);
      rocksdb::ReadOptions read_options;
      read_options.iterate_upper_bound = &upper_slice;
      std::unique_ptr<rocksdb::Iterator> it(
          log_->db->NewIterator(read_options));
      for (it->Seek(lower); it->Valid() && out.size() < max_records;
           it->Next()) {
        LogRecord record;
        record.topic_partition = p.topic_partition;
        if (!DecodeRecordKeyOffset(it->key(), p.topic_partition,
                                   &record.offset) ||
            record.offset != p.offset) {
          break;  // A hole, reported below.
        }
        if (!DecodeRecordValue(it->value(), record)) {
          return absl::DataLossError(
              absl::StrCat("corrupt record at ", p.topic_partition.topic, "/",
                           p.topic_partition.partition, "@", p.offset));
        }
        out.push_back(std::move(record));
        ++p.offset;
      }
      if (!it->status().ok()) {
        const absl::Status s = FromRocksDb(it->status());
        return absl::Status(
            s.code(), absl::StrCat("reading ", p.topic_partition.topic, "/",
                                   p.topic_partition.partition, " at offset ",
                                   p.offset, ": ", s.message()));
      }
      if (out.size() < max_records && p.offset < end) {
        // The store ends before the offset recorded as the end: a hole.
        return absl::DataLossError(absl::StrCat(
            "record ", p.topic_partition.topic, "/",
            p.topic_partition.partition, "@", p.offset, " is missing"));
      }
    }
    next_ = (next_ + 1) % assignment_.size();
    return absl::OkStatus();
  }

  std::shared_ptr<SharedLog> log_;
  std::string group_;
  std::vector<Position> assignment_;
  size_t next_ = 0;
  bool assigned_by_hand_ = false;
  // Set while subscribed: the member's id in its group, and who hears of
  // partitions moving.
  std::optional<GroupCoordinator::MemberId> member_;
  RebalanceListener* listener_ = nullptr;
};

class RocksDbEventLog final : public EventLog {
 public:
  RocksDbEventLog(std::shared_ptr<SharedLog> log, std::string path)
      : log_(std::move(log)), path_(std::move(path)) {
    marker_ = std::thread([this] { MarkEnds(); });
  }
  ~RocksDbEventLog() override {
    {
      std::lock_guard<std::mutex> lock(marker_mu_);
      stop_ = true;
    }
    marker_cv_.notify_all();
    marker_.join();
  }

  absl::StatusOr<int32_t> PartitionCount(absl::string_view topic) override {
    return log_->Partitions(topic);
  }

  absl::Status Append(absl::string_view topic,
                      absl::Span<const AppendRecord> records) override {
    ASSIGN_OR_RETURN(int32_t partitions, log_->Partitions(topic));
    for (const AppendRecord& r : records) {
      if (r.partition >= partitions) {
        return absl::InvalidArgumentError(
            absl::StrCat("partition ", r.partition, " out of range for topic '",
                         topic, "' with ", partitions, " partitions"));
      }
    }
    const int64_t now = NowMs();
    std::lock_guard<std::mutex> append_lock(*log_->append_mu.at(topic));
    rocksdb::WriteBatch batch;
    absl::flat_hash_map<int32_t, int64_t> next;
    for (const AppendRecord& r : records) {
      const int32_t partition =
          r.partition >= 0 ? r.partition : PartitionForKey(r.key, partitions);
      TopicPartition tp{std::string(topic), partition};
      auto [it, inserted] = next.try_emplace(partition, 0);
      if (inserted) {
        std::lock_guard<std::mutex> lock(log_->mu);
        it->second = log_->end_offset[tp];
      }
      batch.Put(RecordKey(tp, it->second++),
                EncodeRecordValue(now, r.key, r.value));
    }
    rocksdb::WriteOptions write_options;
    write_options.sync = log_->sync;
    RETURN_IF_ERROR(FromRocksDb(log_->db->Write(write_options, &batch)));
    // Readers see the new records only once they are written.
    {
      std::lock_guard<std::mutex> lock(log_->mu);
      for (const auto& [partition, end] : next) {
        log_->end_offset[TopicPartition{std::string(topic), partition}] = end;
      }
      log_->appended.notify_all();
    }
    log_->UpdateMark();
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> EndOffset(const TopicPartition& tp) override {
    ASSIGN_OR_RETURN(int32_t partitions, log_->Partitions(tp.topic));
    if (tp.partition < 0 || tp.partition >= partitions) {
      return absl::InvalidArgumentError(
          absl::StrCat("partition ", tp.partition, " out of range"));
    }
    std::lock_guard<std::mutex> lock(log_->mu);
    return log_->end_offset[tp];
  }

  absl::StatusOr<int64_t> StartOffset(const TopicPartition& tp) override {
    ASSIGN_OR_RETURN(int64_t end, EndOffset(tp));
    std::unique_ptr<rocksdb::Iterator> it(
        log_->db->NewIterator(rocksdb::ReadOptions()));
    it->Seek(RecordKey(tp, 0));
    int64_t offset;
    if (it->Valid() && DecodeRecordKeyOffset(it->key(), tp, &offset)) {
      return std::min(offset, end);
    }
    RETURN_IF_ERROR(FromRocksDb(it->status()));
    return end;
  }

  absl::StatusOr<std::unique_ptr<LogConsumer>> NewConsumer(
      absl::string_view group) override {
    if (group.empty()) return absl::InvalidArgumentError("group: empty");
    return std::unique_ptr<LogConsumer>(
        new RocksDbConsumer(log_, std::string(group)));
  }

 private:
  // fsyncs the END_OFFSETS mark about once a second (appends rewrite it).
  void MarkEnds() {
    pthread_setname_np(pthread_self(), "log-end-mark");
    bool stopping = false;
    while (!stopping) {
      {
        std::unique_lock<std::mutex> lock(marker_mu_);
        stopping = marker_cv_.wait_for(lock, std::chrono::seconds(1),
                                       [&] { return stop_; });
      }
      std::lock_guard<std::mutex> mark_lock(log_->mark_mu);
      if (log_->mark == nullptr || !log_->mark_dirty) continue;
      if (absl::Status s = log_->mark->Sync(); !s.ok()) {
        STRATA_LOG(WARNING) << "event log: " << s;
        continue;
      }
      log_->mark_dirty = false;
    }
  }

  std::shared_ptr<SharedLog> log_;
  const std::string path_;
  std::mutex marker_mu_;
  std::condition_variable marker_cv_;
  bool stop_ = false;  // Guarded by marker_mu_.
  std::thread marker_;
};

absl::Status Damaged(const std::string& path, absl::string_view why) {
  return absl::DataLossError(absl::StrCat(
      "event log ", path, " is damaged: ", why,
      ". Refusing to open; see the README, 'Damage and recovery'"));
}

absl::Status CheckEndsAgainstMark(const SharedLog& log,
                                  const std::string& path) {
  ASSIGN_OR_RETURN(EndOffsets mark, ReadEndOffsetsMark(path));
  return CheckAgainstMark(log.end_offset, mark, path);
}

// Reads every record once: each block's checksum holds, and each partition
// holds every offset from its first to its end (a database that lost files
// would show a hole).
absl::Status VerifyContiguous(SharedLog& log, const std::string& path) {
  rocksdb::ReadOptions read_options;
  read_options.verify_checksums = true;
  read_options.fill_cache = false;
  for (const auto& [tp, end] : log.end_offset) {
    std::unique_ptr<rocksdb::Iterator> it(log.db->NewIterator(read_options));
    int64_t expected = -1;
    int64_t offset = 0;
    for (it->Seek(RecordKey(tp, 0));
         it->Valid() && DecodeRecordKeyOffset(it->key(), tp, &offset);
         it->Next()) {
      if (expected >= 0 && offset != expected) {
        return Damaged(
            path, absl::StrCat("records ", tp.topic, "/", tp.partition, "@",
                               expected, "..", offset - 1, " are missing"));
      }
      expected = offset + 1;
    }
    if (!it->status().ok()) {
      return Damaged(path, absl::StrCat("reading ", tp.topic, "/", tp.partition,
                                        ": ", it->status().ToString()));
    }
  }
  return absl::OkStatus();
}

// Reads the partition count stored for `topic`, creating it when new.
absl::StatusOr<int32_t> LoadOrCreateTopic(rocksdb::DB& db,
                                          const std::string& topic,
                                          int32_t partitions, bool sync) {
  std::string value;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(), TopicKey(topic), &value);
  if (s.ok()) return static_cast<int32_t>(DecodeOffset(value));
  if (!s.IsNotFound()) return FromRocksDb(s);
  if (partitions <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic '", topic, "': partition count must be positive"));
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  RETURN_IF_ERROR(FromRocksDb(
      db.Put(write_options, TopicKey(topic), EncodeOffset(partitions))));
  return partitions;
}

// One past the highest offset stored for the partition.
absl::StatusOr<int64_t> FindEndOffset(rocksdb::DB& db,
                                      const TopicPartition& tp) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
  it->SeekForPrev(RecordKey(tp, INT64_MAX));
  if (it->Valid()) {
    int64_t offset;
    if (DecodeRecordKeyOffset(it->key(), tp, &offset)) return offset + 1;
  }
  RETURN_IF_ERROR(FromRocksDb(it->status()));
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventLog>> OpenRocksDbEventLog(
    const RocksDbEventLogOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("path: empty");
  const std::filesystem::path path(options.path);
  std::error_code ec;
  const bool create =
      !std::filesystem::exists(path, ec) || std::filesystem::is_empty(path, ec);
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create ", options.path, ": ", ec.message()));
  }
  rocksdb::Options db_options;
  // Only an empty directory becomes a new log: a log that lost its CURRENT
  // file must not open as an empty one.
  db_options.create_if_missing = create;
  db_options.error_if_exists = create;
  // A WAL missing or cut short against the MANIFEST fails the open.
  db_options.track_and_verify_wals_in_manifest = true;
  db_options.compression = rocksdb::kLZ4Compression;
  db_options.IncreaseParallelism(2);
  rocksdb::BlockBasedTableOptions table_options;
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  db_options.table_factory.reset(
      rocksdb::NewBlockBasedTableFactory(table_options));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status opened = rocksdb::DB::Open(db_options, options.path, &raw);
  if (!opened.ok()) return Damaged(options.path, opened.ToString());

  auto shared = std::make_shared<SharedLog>();
  shared->db.reset(raw);
  shared->sync = options.sync;
  // A store that fails to read here is damaged, and says which log.
  auto named = [&](absl::Status status) {
    return absl::IsDataLoss(status) ? Damaged(options.path, status.message())
                                    : status;
  };
  for (const auto& [topic, partitions] : options.topics) {
    absl::StatusOr<int32_t> n =
        LoadOrCreateTopic(*shared->db, topic, partitions, options.sync);
    if (!n.ok()) return named(n.status());
    shared->partitions[topic] = *n;
    shared->append_mu[topic] = std::make_unique<std::mutex>();
    for (int32_t p = 0; p < *n; ++p) {
      TopicPartition tp{topic, p};
      absl::StatusOr<int64_t> end = FindEndOffset(*shared->db, tp);
      if (!end.ok()) return named(end.status());
      shared->end_offset[tp] = *end;
    }
  }
  if (!create) {
    RETURN_IF_ERROR(CheckEndsAgainstMark(*shared, options.path));
    if (options.verify_on_open) {
      RETURN_IF_ERROR(VerifyContiguous(*shared, options.path));
    }
  }
  ASSIGN_OR_RETURN(shared->mark, EndOffsetsMark::Open(options.path));
  shared->UpdateMark();
  return std::unique_ptr<EventLog>(
      new RocksDbEventLog(std::move(shared), options.path));
}

}  // namespace strata::eventlog
