#include "services/ingest/event_id_index.h"

#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"

namespace strata::ingest {
namespace {

constexpr size_t kIds = 0;  // The one family: id -> fingerprint, time.

}  // namespace

absl::StatusOr<std::unique_ptr<EventIdIndex>> EventIdIndex::Open(
    const std::string& path) {
  ASSIGN_OR_RETURN(auto db, StateDb::Open({path, {"event_ids"}, "strata.ingest-event-ids/1"}));
  return std::unique_ptr<EventIdIndex>(new EventIdIndex(std::move(db)));
}

absl::StatusOr<std::vector<std::optional<uint64_t>>> EventIdIndex::Lookup(
    const std::vector<absl::string_view>& ids) {
  ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> values,
                   db_->GetMany(kIds, ids));
  std::vector<std::optional<uint64_t>> fingerprints(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i]) continue;
    if (values[i]->size() != 16) {
      return absl::DataLossError(
          absl::StrCat("ingest event-id index: malformed entry '", ids[i], "'"));
    }
    fingerprints[i] = static_cast<uint64_t>(DecodeFixed64At(*values[i], 0));
  }
  return fingerprints;
}

absl::Status EventIdIndex::Record(
    const std::vector<std::pair<absl::string_view, uint64_t>>& events,
    int64_t append_time_ms) {
  rocksdb::WriteBatch batch;
  for (const auto& [id, fingerprint] : events) {
    batch.Put(db_->family(kIds), rocksdb::Slice(id.data(), id.size()),
              EncodeFixed64s({static_cast<int64_t>(fingerprint),
                              append_time_ms}));
  }
  return db_->Write(batch);
}

}  // namespace strata::ingest
