#include "services/rollup/route_store.h"

#include "absl/strings/str_cat.h"
#include "libs/eventlog/outbox.h"
#include "libs/eventlog/stored_positions.h"
#include "libs/status/status_macros.h"

namespace strata::rollup {
namespace {

enum Family : size_t { kIds = 0, kMeta };

constexpr char kFrontierPrefix[] = "frontier/";

absl::StatusOr<int64_t> DecodeOne(const std::string& value,
                                  absl::string_view what,
                                  absl::string_view key) {
  if (value.size() != 8) {
    return absl::DataLossError(absl::StrCat("malformed ", what, " '", key, "'"));
  }
  return DecodeFixed64At(value, 0);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RouteStore>> RouteStore::Open(
    const std::string& path) {
  StateDbOptions options;
  options.path = path;
  options.families = {"ids", "meta"};
  options.format = "strata.rollup-route/1";
  ASSIGN_OR_RETURN(auto db, StateDb::Open(options));
  return std::unique_ptr<RouteStore>(new RouteStore(std::move(db)));
}

absl::StatusOr<std::vector<std::optional<uint64_t>>> RouteStore::Fingerprints(
    const std::vector<absl::string_view>& ids) {
  ASSIGN_OR_RETURN(auto values, db_->GetMany(kIds, ids));
  std::vector<std::optional<uint64_t>> fingerprints(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i]) continue;
    ASSIGN_OR_RETURN(const int64_t fingerprint,
                     DecodeOne(*values[i], "event id entry", ids[i]));
    fingerprints[i] = static_cast<uint64_t>(fingerprint);
  }
  return fingerprints;
}

absl::StatusOr<std::optional<int64_t>> RouteStore::Frontier(
    const std::string& key) {
  const std::string stored_key = absl::StrCat(kFrontierPrefix, key);
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   db_->Get(kMeta, stored_key));
  if (!value) return std::nullopt;
  return DecodeOne(*value, "frontier", stored_key);
}

absl::StatusOr<eventlog::Position> RouteStore::Position(
    const eventlog::TopicPartition& tp) {
  return eventlog::StoredPosition(*db_, tp);
}

absl::Status RouteStore::Commit(
    const RouteChanges& changes,
    const std::vector<eventlog::AppendRecord>& outbox) {
  rocksdb::WriteBatch batch;
  eventlog::Outbox(*db_, kMeta).PutInto(batch, outbox);
  for (const auto& [id, fingerprint] : changes.ids) {
    batch.Put(db_->family(kIds), id,
              EncodeFixed64s({static_cast<int64_t>(fingerprint)}));
  }
  for (const auto& [key, index] : changes.frontiers) {
    batch.Put(db_->family(kMeta), absl::StrCat(kFrontierPrefix, key),
              EncodeFixed64s({index}));
  }
  eventlog::PutPositions(batch, changes.positions);
  return db_->Write(batch);
}

absl::StatusOr<std::vector<eventlog::AppendRecord>> RouteStore::Outbox() {
  return eventlog::Outbox(*db_, kMeta).Read();
}

absl::Status RouteStore::ClearOutbox() {
  return eventlog::Outbox(*db_, kMeta).Clear();
}

}  // namespace strata::rollup
