#include "libs/eventlog/rocksdb_keys.h"

#include "absl/base/internal/endian.h"

namespace strata::eventlog {
namespace {

void AppendBigEndian32(std::string& out, uint32_t v) {
  char buf[4];
  absl::big_endian::Store32(buf, v);
  out.append(buf, 4);
}

void AppendBigEndian64(std::string& out, uint64_t v) {
  char buf[8];
  absl::big_endian::Store64(buf, v);
  out.append(buf, 8);
}

std::string PartitionPrefix(const TopicPartition& tp) {
  std::string key;
  key.reserve(2 + tp.topic.size() + 12);
  key.push_back('r');
  key.append(tp.topic);
  key.push_back('\0');
  AppendBigEndian32(key, static_cast<uint32_t>(tp.partition));
  return key;
}

}  // namespace

std::string RecordKey(const TopicPartition& tp, int64_t offset) {
  std::string key = PartitionPrefix(tp);
  AppendBigEndian64(key, static_cast<uint64_t>(offset));
  return key;
}

std::string CommittedKey(absl::string_view group, const TopicPartition& tp) {
  std::string key = "c";
  key.append(group.data(), group.size());
  key.push_back('\0');
  key.append(tp.topic);
  key.push_back('\0');
  AppendBigEndian32(key, static_cast<uint32_t>(tp.partition));
  return key;
}

std::string TopicKey(absl::string_view topic) {
  return std::string("t").append(topic.data(), topic.size());
}

bool DecodeRecordKeyOffset(rocksdb::Slice key, const TopicPartition& tp,
                           int64_t* offset) {
  const std::string prefix = PartitionPrefix(tp);
  if (key.size() != prefix.size() + 8 || !key.starts_with(prefix)) return false;
  *offset = static_cast<int64_t>(
      absl::big_endian::Load64(key.data() + prefix.size()));
  return true;
}

std::string EncodeRecordValue(int64_t timestamp_ms, absl::string_view key,
                              absl::string_view value) {
  std::string out;
  out.resize(12);
  absl::little_endian::Store64(out.data(), static_cast<uint64_t>(timestamp_ms));
  absl::little_endian::Store32(out.data() + 8,
                               static_cast<uint32_t>(key.size()));
  out.append(key.data(), key.size());
  out.append(value.data(), value.size());
  return out;
}

bool DecodeRecordValue(rocksdb::Slice encoded, LogRecord& record) {
  if (encoded.size() < 12) return false;
  record.timestamp_ms =
      static_cast<int64_t>(absl::little_endian::Load64(encoded.data()));
  const uint32_t key_size = absl::little_endian::Load32(encoded.data() + 8);
  if (encoded.size() - 12 < key_size) return false;
  record.key.assign(encoded.data() + 12, key_size);
  record.value.assign(encoded.data() + 12 + key_size,
                      encoded.size() - 12 - key_size);
  return true;
}

std::string EncodeOffset(int64_t offset) {
  std::string out(8, '\0');
  absl::little_endian::Store64(out.data(), static_cast<uint64_t>(offset));
  return out;
}

int64_t DecodeOffset(absl::string_view encoded) {
  if (encoded.size() != 8) return kNoOffset;
  return static_cast<int64_t>(absl::little_endian::Load64(encoded.data()));
}

}  // namespace strata::eventlog
