#include "libs/eventlog/rocksdb_event_log.h"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "libs/eventlog/rocksdb_keys.h"
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

  absl::Status Assign(const std::vector<Position>& positions) override {
    for (const Position& p : positions) {
      ASSIGN_OR_RETURN(int32_t n, log_->Partitions(p.topic_partition.topic));
      if (p.topic_partition.partition < 0 || p.topic_partition.partition >= n) {
        return absl::InvalidArgumentError(absl::StrCat(
            "partition ", p.topic_partition.partition,
            " out of range for topic '", p.topic_partition.topic, "'"));
      }
    }
    assignment_ = positions;
    next_ = 0;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<LogRecord>> Poll(size_t max_records,
                                              absl::Duration timeout) override {
    std::vector<LogRecord> out;
    if (assignment_.empty()) return out;
    const auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
    while (true) {
      RETURN_IF_ERROR(ReadAvailable(max_records, out));
      if (!out.empty()) return out;
      std::unique_lock<std::mutex> lock(log_->mu);
      if (HasUnread()) continue;
      if (log_->appended.wait_until(lock, deadline) ==
              std::cv_status::timeout &&
          !HasUnread()) {
        return out;
      }
    }
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
        record.offset = p.offset;
        if (!DecodeRecordValue(it->value(), record)) {
          return absl::DataLossError(
              absl::StrCat("corrupt record at ", p.topic_partition.topic, "/",
                           p.topic_partition.partition, "@", p.offset));
        }
        out.push_back(std::move(record));
        ++p.offset;
      }
      RETURN_IF_ERROR(FromRocksDb(it->status()));
    }
    next_ = (next_ + 1) % assignment_.size();
    return absl::OkStatus();
  }

  std::shared_ptr<SharedLog> log_;
  std::string group_;
  std::vector<Position> assignment_;
  size_t next_ = 0;
};

class RocksDbEventLog final : public EventLog {
 public:
  explicit RocksDbEventLog(std::shared_ptr<SharedLog> log)
      : log_(std::move(log)) {}

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
    std::lock_guard<std::mutex> lock(log_->mu);
    for (const auto& [partition, end] : next) {
      log_->end_offset[TopicPartition{std::string(topic), partition}] = end;
    }
    log_->appended.notify_all();
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

  absl::StatusOr<std::unique_ptr<LogConsumer>> NewConsumer(
      absl::string_view group) override {
    if (group.empty()) return absl::InvalidArgumentError("group: empty");
    return std::unique_ptr<LogConsumer>(
        new RocksDbConsumer(log_, std::string(group)));
  }

 private:
  std::shared_ptr<SharedLog> log_;
};

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
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create ", options.path, ": ", ec.message()));
  }
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.compression = rocksdb::kLZ4Compression;
  db_options.IncreaseParallelism(2);
  rocksdb::BlockBasedTableOptions table_options;
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  db_options.table_factory.reset(
      rocksdb::NewBlockBasedTableFactory(table_options));
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(
      FromRocksDb(rocksdb::DB::Open(db_options, options.path, &raw)));

  auto shared = std::make_shared<SharedLog>();
  shared->db.reset(raw);
  shared->sync = options.sync;
  for (const auto& [topic, partitions] : options.topics) {
    ASSIGN_OR_RETURN(int32_t n, LoadOrCreateTopic(*shared->db, topic,
                                                  partitions, options.sync));
    shared->partitions[topic] = n;
    shared->append_mu[topic] = std::make_unique<std::mutex>();
    for (int32_t p = 0; p < n; ++p) {
      TopicPartition tp{topic, p};
      ASSIGN_OR_RETURN(shared->end_offset[tp], FindEndOffset(*shared->db, tp));
    }
  }
  return std::unique_ptr<EventLog>(new RocksDbEventLog(std::move(shared)));
}

}  // namespace strata::eventlog
