#pragma once

// The log seam: every service reads and writes the event log through this
// interface, whichever backend holds it.
//
//   std::unique_ptr<EventLog> log = ...;  // RocksDbEventLog or KafkaEventLog
//   RETURN_IF_ERROR(log->Append("strata.kpi-events", records));
//   ASSIGN_OR_RETURN(auto consumer, log->NewConsumer("strata-rollup"));
//   RETURN_IF_ERROR(consumer->Assign({{{"strata.kpi-events", 0}, 0}}));
//   ASSIGN_OR_RETURN(auto batch, consumer->Poll(1000, absl::Milliseconds(50)));
//
// Or, sharing partitions with other members of the group:
//   RETURN_IF_ERROR(consumer->Subscribe({"strata.kpi-events"}, listener));
//
// Records are ordered within a partition and numbered by offset from 0.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace strata::eventlog {

// Returned by LogConsumer::Committed when the group never committed.
inline constexpr int64_t kNoOffset = -1;

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  friend bool operator==(const TopicPartition& a, const TopicPartition& b) {
    return a.partition == b.partition && a.topic == b.topic;
  }
  template <typename H>
  friend H AbslHashValue(H h, const TopicPartition& tp) {
    return H::combine(std::move(h), tp.topic, tp.partition);
  }
};

// A read position: `offset` is the next record to read.
struct Position {
  TopicPartition topic_partition;
  int64_t offset = 0;
  // For state stores: StableHash of the value of the record at offset - 1,
  // so that a log replaced under a state (an older copy restored and then
  // appended to) is told apart from the one the state was built from. 0
  // when unknown. Ignored by Assign and Commit.
  uint64_t previous_record_hash = 0;
};

// A record to append. With `partition` negative, the partition is chosen by
// PartitionForKey(key); set it to place records explicitly.
struct AppendRecord {
  std::string key;
  std::string value;
  int32_t partition = -1;
};

// A record read back from the log.
struct LogRecord {
  TopicPartition topic_partition;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;  // Append time.
  std::string key;
  std::string value;
};

// The partition a key maps to: Kafka's default partitioner (murmur2 of the
// key's bytes), identical for every backend, so that a topic keeps its
// layout when it moves between them and any Kafka client keying records
// alike lands in the same partitions.
int32_t PartitionForKey(absl::string_view key, int32_t partition_count);

// What a member of a consumer group hears when partitions change owner.
// Rebalancing is cooperative: only partitions that move are revoked from
// one member and then assigned to another, never to two at once; the rest
// stay read without a pause. Called on the polling thread, from inside
// LogConsumer::Poll, and from the consumer's destructor (Revoked, for what
// it still reads).
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;

  // The member no longer reads `partitions`: it has seen every record Poll
  // returned for them and sees no more. It hands their state over (flushes
  // it) before returning; whichever member gets them next resumes from
  // what it handed over.
  virtual void Revoked(const std::vector<TopicPartition>& partitions) = 0;

  // The member was out of touch too long (Kafka's session timeout): the
  // partitions may already be another member's, so their state must be
  // dropped, not handed over (it could overwrite the new owner's).
  virtual void Lost(const std::vector<TopicPartition>& partitions) = 0;

  // The member now reads `partitions`, each from the position returned for
  // it (offset kNoOffset: the group's committed position, else the first
  // record kept). Returning an error leaves the group: the member hands
  // over what it read before, Poll fails with the error once, and the
  // consumer reads nothing more until it subscribes again.
  virtual absl::StatusOr<std::vector<Position>> Assigned(
      const std::vector<TopicPartition>& partitions) = 0;
};

// Reads partitions on behalf of a consumer group: those it is assigned by
// hand (Assign) or those the group gives it (Subscribe), never both. Not
// thread-safe: one thread drives a consumer.
class LogConsumer {
 public:
  virtual ~LogConsumer() = default;

  // Replaces the assignment: each partition is read from its offset on.
  virtual absl::Status Assign(const std::vector<Position>& positions) = 0;

  // Joins the group as a member sharing the partitions of `topics` with the
  // group's other members (balanced, and sticky across rebalances); the
  // member leaves when the consumer is destroyed. `listener` must outlive
  // the consumer. Partitions are assigned and revoked from inside Poll.
  virtual absl::Status Subscribe(const std::vector<std::string>& topics,
                                 RebalanceListener& listener) = 0;

  // Has the next Poll read each partition from its position's offset, as a
  // stage does after a failure to read again what it did not commit. Only
  // partitions the consumer reads move; the others (revoked meanwhile)
  // are ignored. Records already returned are not taken back.
  virtual absl::Status Seek(const std::vector<Position>& positions) = 0;

  // Returns up to `max_records` in partition order, waiting up to `timeout`
  // for the first one; an empty result means nothing arrived in time.
  virtual absl::StatusOr<std::vector<LogRecord>> Poll(
      size_t max_records, absl::Duration timeout) = 0;

  // How many records of the partitions it reads lie past what Poll has
  // returned (its lag), from what the consumer last heard of their ends:
  // no round trip to a broker, so it may be asked after every poll. A
  // partition whose end or position is not known yet counts as caught up.
  virtual int64_t RecordsBehind() = 0;

  // Stores the group's positions. A Kafka group member's reach its group
  // within KafkaEventLogOptions::group_commit_interval, and at once from
  // inside a rebalance callback (the hand-over) and when it leaves; the
  // group's position may trail, never lead, what was reported.
  virtual absl::Status Commit(const std::vector<Position>& positions) = 0;

  // The group's stored position for a partition, or kNoOffset.
  virtual absl::StatusOr<int64_t> Committed(const TopicPartition& tp) = 0;

  // OK while no other member can have been given this member's partitions
  // behind its back; UNAVAILABLE once its group may have dropped it (a
  // Kafka member unheard by its coordinator for most of its session, or
  // whose assignment librdkafka counts lost), until it is told what it
  // lost and joins again. A member checks before it publishes what its
  // partitions hold: a zombie publishing beside their next owner would
  // send a key's versions backwards. OK for partitions assigned by hand.
  virtual absl::Status CheckMembership() { return absl::OkStatus(); }
};

// Thread-safe.
class EventLog {
 public:
  virtual ~EventLog() = default;

  // NOT_FOUND when the topic does not exist.
  virtual absl::StatusOr<int32_t> PartitionCount(absl::string_view topic) = 0;

  // Appends `records` and returns once the backend holds them durably (the
  // embedded log: written to its WAL; Kafka: acknowledged by all in-sync
  // replicas). The embedded log applies a call all-or-nothing; on Kafka a
  // failed call may leave some records appended, so callers make records
  // idempotent (event ids) and retry.
  virtual absl::Status Append(absl::string_view topic,
                              absl::Span<const AppendRecord> records) = 0;

  // One past the last offset of the partition.
  virtual absl::StatusOr<int64_t> EndOffset(const TopicPartition& tp) = 0;

  // The first offset the partition still holds: 0 unless retention or
  // compaction removed earlier records; EndOffset() when it is empty.
  virtual absl::StatusOr<int64_t> StartOffset(const TopicPartition& tp) = 0;

  virtual absl::StatusOr<std::unique_ptr<LogConsumer>> NewConsumer(
      absl::string_view group) = 0;
};

}  // namespace strata::eventlog
