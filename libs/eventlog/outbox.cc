#include "libs/eventlog/outbox.h"

#include <algorithm>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"

namespace strata::eventlog {
namespace {

constexpr char kBegin[] = "outbox/";
constexpr char kEnd[] = "outbox0";  // '0' follows '/'.

// Big-endian index after the prefix, so that keys sort in record order.
std::string Key(size_t index) {
  std::string key = kBegin;
  key += EncodeFixed64s({static_cast<int64_t>(index)});
  std::reverse(key.begin() + sizeof(kBegin) - 1, key.end());
  return key;
}

// Fields before the key and value: the key's size and the partition.
constexpr size_t kHeader = 16;

}  // namespace

void Outbox::PutInto(rocksdb::WriteBatch& batch,
                     const std::vector<AppendRecord>& records) const {
  for (size_t i = 0; i < records.size(); ++i) {
    const AppendRecord& record = records[i];
    batch.Put(db_.family(family_), Key(i),
              EncodeFixed64s({static_cast<int64_t>(record.key.size()),
                              record.partition}) +
                  record.key + record.value);
  }
}

absl::StatusOr<std::vector<AppendRecord>> Outbox::Read() const {
  ASSIGN_OR_RETURN(auto entries, db_.Scan(family_, kBegin, kEnd));
  std::vector<AppendRecord> records;
  records.reserve(entries.size());
  for (const auto& [key, value] : entries) {
    const int64_t key_size =
        value.size() < kHeader ? -1 : DecodeFixed64At(value, 0);
    if (key_size < 0 ||
        static_cast<uint64_t>(key_size) > value.size() - kHeader) {
      return absl::DataLossError(absl::StrCat("malformed outbox record '",
                                              absl::CEscape(key), "'"));
    }
    records.push_back(
        {value.substr(kHeader, key_size), value.substr(kHeader + key_size),
         static_cast<int32_t>(DecodeFixed64At(value, 1))});
  }
  return records;
}

absl::Status Outbox::Clear() {
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(ClearInto(batch));
  if (batch.Count() == 0) return absl::OkStatus();
  return db_.Write(batch);
}

absl::Status Outbox::ClearInto(rocksdb::WriteBatch& batch) const {
  ASSIGN_OR_RETURN(auto entries, db_.Scan(family_, kBegin, kEnd));
  for (const auto& [key, value] : entries) batch.Delete(db_.family(family_), key);
  return absl::OkStatus();
}

}  // namespace strata::eventlog
