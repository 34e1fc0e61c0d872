#pragma once

// Key and value layout of the embedded log. Keys sort by topic, partition
// and offset (big-endian), so a partition is one contiguous key range.
//
//   r <topic> \0 <partition:be32> <offset:be64>  -> <ts:fixed64> <klen:fixed32>
//   key value c <group> \0 <topic> \0 <partition:be32>     -> <offset:fixed64>
//   t <topic>                                    -> <partitions:fixed64>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "libs/eventlog/event_log.h"
#include "rocksdb/slice.h"

namespace strata::eventlog {

std::string RecordKey(const TopicPartition& tp, int64_t offset);
std::string CommittedKey(absl::string_view group, const TopicPartition& tp);
std::string TopicKey(absl::string_view topic);

// True when `key` is a record key of `tp`; stores its offset.
bool DecodeRecordKeyOffset(rocksdb::Slice key, const TopicPartition& tp,
                           int64_t* offset);

std::string EncodeRecordValue(int64_t timestamp_ms, absl::string_view key,
                              absl::string_view value);
// Fills timestamp, key and value of `record`; false when malformed.
bool DecodeRecordValue(rocksdb::Slice encoded, LogRecord& record);

std::string EncodeOffset(int64_t offset);
int64_t DecodeOffset(absl::string_view encoded);

}  // namespace strata::eventlog
