#include "services/rollup/route_store.h"

#include "absl/strings/str_cat.h"
#include "libs/eventlog/outbox.h"
#include "libs/eventlog/stored_positions.h"
#include "libs/status/status_macros.h"

namespace strata::rollup {
namespace {

enum Family : size_t { kIds = 0, kMeta };


}  // namespace

absl::StatusOr<std::unique_ptr<RouteStore>> RouteStore::Open(
    const std::string& path) {
  StateDbOptions options;
  options.path = path;
  options.families = {"ids", "meta"};
  options.format = "strata.rollup-route/2";
  ASSIGN_OR_RETURN(auto db, StateDb::Open(options));
  return std::unique_ptr<RouteStore>(new RouteStore(std::move(db)));
}

absl::StatusOr<std::vector<std::optional<FirstCopy>>> RouteStore::FirstCopies(
    const std::vector<absl::string_view>& ids) {
  ASSIGN_OR_RETURN(auto values, db_->GetMany(kIds, ids));
  std::vector<std::optional<FirstCopy>> copies(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i]) continue;
    // Fingerprint, fold partition.
    if (values[i]->size() != 16) {
      return absl::DataLossError(
          absl::StrCat("malformed event id entry '", ids[i], "'"));
    }
    copies[i] = FirstCopy{static_cast<uint64_t>(DecodeFixed64At(*values[i], 0)),
                          static_cast<int32_t>(DecodeFixed64At(*values[i], 1))};
  }
  return copies;
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
  for (const auto& [id, copy] : changes.ids) {
    batch.Put(db_->family(kIds), id,
              EncodeFixed64s({static_cast<int64_t>(copy.fingerprint),
                              copy.fold_partition}));
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
