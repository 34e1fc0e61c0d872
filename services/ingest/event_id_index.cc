#include "services/ingest/event_id_index.h"

#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"
#include "libs/storage/rocksdb_status.h"

namespace strata::ingest {
namespace {

constexpr size_t kIds = 0;  // The one family: id -> fingerprint, time.

}  // namespace

// Drops entries whose append time lies beyond the horizon.
class EventIdIndex::ExpiryFilter final : public rocksdb::CompactionFilter {
 public:
  ExpiryFilter(absl::Duration horizon, Clock& clock)
      : horizon_(horizon), clock_(clock) {}

  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value,
              std::string*, bool*) const override {
    if (value.size() != 16) return false;  // Reported by Lookup, not here.
    const int64_t appended_ms = DecodeFixed64At(
        absl::string_view(value.data(), value.size()), 1);
    return absl::FromUnixMillis(appended_ms) < clock_.Now() - horizon_;
  }
  const char* Name() const override { return "strata.EventIdExpiry"; }

 private:
  const absl::Duration horizon_;
  Clock& clock_;
};

absl::StatusOr<std::unique_ptr<EventIdIndex>> EventIdIndex::Open(
    const std::string& path, absl::Duration horizon, Clock& clock) {
  std::unique_ptr<EventIdIndex> index(new EventIdIndex());
  index->expiry_ = std::make_unique<ExpiryFilter>(horizon, clock);
  StateDbOptions options;
  options.path = path;
  options.families = {"event_ids"};
  options.format = "strata.ingest-event-ids/1";
  options.compaction_filter = index->expiry_.get();
  ASSIGN_OR_RETURN(index->db_, StateDb::Open(options));
  return index;
}

EventIdIndex::~EventIdIndex() { db_.reset(); }

absl::Status EventIdIndex::Compact() {
  return FromRocksDb(db_->db().CompactRange(rocksdb::CompactRangeOptions(),
                                            db_->family(kIds), nullptr,
                                            nullptr));
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
