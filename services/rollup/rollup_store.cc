#include "services/rollup/rollup_store.h"


#include "absl/strings/str_cat.h"
#include "libs/eventlog/outbox.h"
#include "services/rollup/cell_codec.h"
#include "libs/eventlog/stored_positions.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"

namespace strata::rollup {
namespace {

// Column families, in the order given to StateDb::Open.
enum Family : size_t {
  kCells = 0,
  kOwn,
  kSeen,
  kOwnEvents,
  kClosings,
  kPending,
  kReported,
  kMeta,
  kTombstones,
  kPartials
};

constexpr char kFoldedReorgsKey[] = "folded_reorgs";
constexpr char kFoldPartitionsKey[] = "fold_partitions";
constexpr char kVersionEpochKey[] = "version_epoch";
constexpr char kInputTopicKey[] = "input_topic";
constexpr char kEndOfKeys[] = "\xff\xff\xff\xff";

// Fixed-width fields of an own state (followed by the latest event's id).
constexpr size_t kOwnFields = 12;

absl::Status Malformed(absl::string_view what, absl::string_view key) {
  return absl::DataLossError(absl::StrCat("malformed ", what, " '", key, "'"));
}

}  // namespace

absl::StatusOr<std::vector<eventlog::AppendRecord>> RollupStore::Outbox() {
  return eventlog::Outbox(*db_, kMeta).Read();
}

absl::Status RollupStore::ClearOutbox() {
  return eventlog::Outbox(*db_, kMeta).Clear();
}

StateDbOptions RollupStore::Layout(const std::string& path) {
  StateDbOptions options;
  options.path = path;
  options.families = {"cells",    "own",     "seen",     "own_events",
                      "closings", "pending", "reported", "meta",
                      "tombstones", "partials"};
  // 2: 128-bit sums, nanosecond times, event fingerprints.
  // 3: every aggregation (weights, contributors, own counts and extremes),
  //    periods in the organisation's time zone, corrections.
  // 4: stocks carried forward.
  // 5: partial cells of fold partitions.
  // 6: frontiers per fold partition, closings per routed fold partition.
  options.format = "strata.rollup/6";
  return options;
}

absl::StatusOr<std::unique_ptr<RollupStore>> RollupStore::Open(
    const std::string& path, rocksdb::Env* env) {
  StateDbOptions options = Layout(path);
  options.env = env;
  ASSIGN_OR_RETURN(auto db, StateDb::Open(options));
  return std::unique_ptr<RollupStore>(new RollupStore(std::move(db)));
}

absl::StatusOr<std::optional<RollupCell>> RollupStore::GetPartial(
    const std::string& key) {
  return GetCellIn(kPartials, key);
}

absl::StatusOr<std::optional<RollupCell>> RollupStore::GetCell(
    const std::string& key) {
  return GetCellIn(kCells, key);
}

absl::StatusOr<std::optional<RollupCell>> RollupStore::GetReported(
    const std::string& key) {
  return GetCellIn(kReported, key);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
RollupStore::Closings(absl::string_view prefix) {
  return db_->Scan(kClosings, prefix, absl::StrCat(prefix, kEndOfKeys));
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
RollupStore::Pending(absl::string_view prefix) {
  return db_->Scan(kPending, prefix, absl::StrCat(prefix, kEndOfKeys));
}

absl::StatusOr<std::optional<std::string>> RollupStore::GetPending(
    const std::string& id) {
  return db_->Get(kPending, id);
}

absl::StatusOr<std::optional<RollupCell>> RollupStore::GetCellIn(
    size_t family, const std::string& key) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, db_->Get(family, key));
  if (!value) return std::nullopt;
  std::optional<RollupCell> cell = DecodeCell(*value);
  if (!cell) return Malformed("cell", key);
  return cell;
}

absl::StatusOr<std::optional<OwnState>> RollupStore::GetOwn(
    const std::string& key) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, db_->Get(kOwn, key));
  if (!value) return std::nullopt;
  if (value->size() < kOwnFields * 8) return Malformed("own state", key);
  OwnState own;
  own.count = DecodeFixed64At(*value, 0);
  own.sum = DecodeInt128At(*value, 1);
  own.last_time = {DecodeFixed64At(*value, 3),
                   static_cast<int32_t>(DecodeFixed64At(*value, 4))};
  own.last_value = DecodeFixed64At(*value, 5);
  own.extreme = DecodeFixed64At(*value, 6);
  own.carried = DecodeFixed64At(*value, 7) != 0;
  own.carried_value = DecodeFixed64At(*value, 8);
  own.history = DecodeFixed64At(*value, 9);
  own.latest_time = {DecodeFixed64At(*value, 10),
                     static_cast<int32_t>(DecodeFixed64At(*value, 11))};
  own.last_id = value->substr(kOwnFields * 8);
  return own;
}

absl::StatusOr<std::vector<std::optional<AppliedEvent>>>
RollupStore::SeenEvents(const std::vector<absl::string_view>& event_ids) {
  ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> values,
                   db_->GetMany(kSeen, event_ids));
  std::vector<std::optional<AppliedEvent>> events(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i]) continue;
    events[i] = DecodeAppliedEvent(*values[i]);
    if (!events[i]) return Malformed("event id", event_ids[i]);
  }
  return events;
}

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>>
RollupStore::OwnEvents(absl::string_view begin, absl::string_view end) {
  ASSIGN_OR_RETURN(auto entries, db_->Scan(kOwnEvents, begin, end));
  std::vector<std::pair<std::string, int64_t>> events;
  events.reserve(entries.size());
  for (auto& [key, value] : entries) {
    if (value.size() != 8) return Malformed("own event", key);
    events.emplace_back(std::move(key), DecodeFixed64At(value, 0));
  }
  return events;
}

absl::StatusOr<std::optional<int64_t>> RollupStore::Frontier(
    const std::string& key) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, db_->Get(kMeta, key));
  if (!value) return std::nullopt;
  if (value->size() != 8) return Malformed("frontier", key);
  return DecodeFixed64At(*value, 0);
}

absl::StatusOr<RollupStore::Shape> RollupStore::FoldedShape() {
  Shape shape;
  auto read = [&](const char* key, int64_t fallback) -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(std::optional<std::string> value, db_->Get(kMeta, key));
    if (!value) return fallback;
    if (value->size() != 8) return Malformed("meta", key);
    return DecodeFixed64At(*value, 0);
  };
  ASSIGN_OR_RETURN(shape.reorgs, read(kFoldedReorgsKey, 0));
  ASSIGN_OR_RETURN(const int64_t partitions, read(kFoldPartitionsKey, 1));
  shape.fold_partitions = static_cast<int32_t>(partitions);
  ASSIGN_OR_RETURN(shape.version_epoch,
                   read(kVersionEpochKey, shape.reorgs));
  ASSIGN_OR_RETURN(std::optional<std::string> input,
                   db_->Get(kMeta, kInputTopicKey));
  shape.input_topic = input.value_or(kKpiEventsTopic);
  return shape;
}

absl::Status RollupStore::Reshape(const Shape& shape,
                                  const std::vector<std::string>& tombstones) {
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(db_->ClearInto(batch));
  batch.Put(db_->family(kMeta), kFoldedReorgsKey,
            EncodeFixed64s({shape.reorgs}));
  batch.Put(db_->family(kMeta), kFoldPartitionsKey,
            EncodeFixed64s({shape.fold_partitions}));
  batch.Put(db_->family(kMeta), kVersionEpochKey,
            EncodeFixed64s({shape.version_epoch}));
  batch.Put(db_->family(kMeta), kInputTopicKey, shape.input_topic);
  for (const std::string& key : tombstones) {
    batch.Put(db_->family(kTombstones), key, "");
  }
  return db_->Write(batch);
}

absl::StatusOr<std::vector<std::string>> RollupStore::CellKeys() {
  ASSIGN_OR_RETURN(auto entries, db_->Scan(kCells, "", kEndOfKeys));
  std::vector<std::string> keys;
  keys.reserve(entries.size());
  for (auto& [key, value] : entries) keys.push_back(std::move(key));
  return keys;
}

absl::StatusOr<std::vector<std::string>> RollupStore::Tombstones() {
  ASSIGN_OR_RETURN(auto entries, db_->Scan(kTombstones, "", kEndOfKeys));
  std::vector<std::string> keys;
  for (auto& [key, value] : entries) keys.push_back(std::move(key));
  return keys;
}

absl::Status RollupStore::DeleteTombstones(const std::vector<std::string>& keys) {
  rocksdb::WriteBatch batch;
  for (const std::string& key : keys) batch.Delete(db_->family(kTombstones), key);
  return db_->Write(batch);
}

absl::StatusOr<eventlog::Position> RollupStore::Position(
    const eventlog::TopicPartition& tp) {
  return eventlog::StoredPosition(*db_, tp);
}

absl::Status RollupStore::Commit(
    const StateChanges& changes,
    const std::vector<eventlog::AppendRecord>& outbox) {
  rocksdb::WriteBatch batch;
  eventlog::Outbox(*db_, kMeta).PutInto(batch, outbox);
  for (const auto& [key, cell] : changes.cells) {
    batch.Put(db_->family(kCells), key, EncodeCell(cell));
  }
  for (const auto& [key, cell] : changes.partials) {
    batch.Put(db_->family(kPartials), key, EncodeCell(cell));
  }
  for (const auto& [key, cell] : changes.reported) {
    batch.Put(db_->family(kReported), key, EncodeCell(cell));
  }
  for (const auto& [key, index] : changes.frontiers) {
    batch.Put(db_->family(kMeta), key, EncodeFixed64s({index}));
  }
  for (const auto& [label, closing] : changes.closings) {
    batch.Put(db_->family(kClosings), label, closing);
  }
  for (const auto& [id, pending] : changes.pending) {
    if (pending) {
      batch.Put(db_->family(kPending), id, *pending);
    } else {
      batch.Delete(db_->family(kPending), id);
    }
  }
  for (const auto& [key, own] : changes.own) {
    std::string value = EncodeFixed64s(
        {own.count, Int128Low(own.sum), Int128High(own.sum), own.last_time.seconds,
         own.last_time.nanos, own.last_value, own.extreme, own.carried,
         own.carried_value, own.history, own.latest_time.seconds,
         own.latest_time.nanos});
    value += own.last_id;
    batch.Put(db_->family(kOwn), key, value);
  }
  for (const auto& [id, event] : changes.seen_events) {
    batch.Put(db_->family(kSeen), id, EncodeAppliedEvent(event));
  }
  for (const auto& [key, value] : changes.own_events) {
    if (value) {
      batch.Put(db_->family(kOwnEvents), key, EncodeFixed64s({*value}));
    } else {
      batch.Delete(db_->family(kOwnEvents), key);
    }
  }
  eventlog::PutPositions(batch, changes.positions);
  return db_->Write(batch);
}

}  // namespace strata::rollup
