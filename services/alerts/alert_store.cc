#include "services/alerts/alert_store.h"

#include <cstring>
#include <limits>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "libs/eventlog/stored_positions.h"
#include "libs/status/status_macros.h"
#include "libs/storage/rocksdb_status.h"
#include "libs/streams/envelope.h"

namespace strata::alerts {
namespace {

enum Family : size_t {
  kCells = 0,
  kIndex,
  kAlerts,
  kDue,
  kDeferred,
  kFeed,  // Big-endian sequence -> alert; "" -> the feed's id.
  kFeedChecks,  // KPI id "/" cadence -> the next period of it to check.
  kSilences,    // Silence id -> Silence.
};

std::string FeedKey(int64_t sequence) {
  char key[8];
  absl::big_endian::Store64(key, static_cast<uint64_t>(sequence));
  return std::string(key, 8);
}

absl::Status Malformed(absl::string_view what, absl::string_view key) {
  return absl::DataLossError(absl::StrCat("malformed ", what, " '", key, "'"));
}

int64_t BitsOfDouble(double d) {
  int64_t bits;
  std::memcpy(&bits, &d, sizeof(bits));
  return bits;
}

double DoubleFromBits(int64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

// Instants as Unix nanoseconds, the infinities as the int64 extremes.
int64_t EncodeTime(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixNanos(t);
}

absl::Time DecodeTime(int64_t nanos) {
  if (nanos == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  if (nanos == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  return absl::FromUnixNanos(nanos);
}

// The due family's keys sort by time, then cell: the time big-endian with
// its sign bit flipped.
std::string DueKey(absl::Time due, absl::string_view cell_key) {
  char time[8];
  absl::big_endian::Store64(
      time, static_cast<uint64_t>(EncodeTime(due)) ^ (uint64_t{1} << 63));
  return absl::StrCat(absl::string_view(time, 8), cell_key);
}

absl::Time TimeOfDueKey(absl::string_view key) {
  return DecodeTime(static_cast<int64_t>(absl::big_endian::Load64(key.data()) ^
                                         (uint64_t{1} << 63)));
}

absl::StatusOr<std::optional<CellStatus>> DecodeCell(
    absl::string_view key, const std::optional<std::string>& value) {
  if (!value) return std::nullopt;
  if (value->size() != 23 * 8) return Malformed("cell", key);
  CellStatus cell;
  cell.actual = DoubleFromBits(DecodeFixed64At(*value, 0));
  cell.target = DoubleFromBits(DecodeFixed64At(*value, 1));
  cell.version = DecodeFixed64At(*value, 2);
  cell.status = static_cast<KpiStatus>(DecodeFixed64At(*value, 3));
  cell.judged_at = DecodeTime(DecodeFixed64At(*value, 4));
  cell.due = DecodeTime(DecodeFixed64At(*value, 5));
  cell.action_due = DecodeTime(DecodeFixed64At(*value, 6));
  cell.escalation_due = DecodeTime(DecodeFixed64At(*value, 7));
  cell.last_score = DoubleFromBits(DecodeFixed64At(*value, 8));
  cell.best_score = DoubleFromBits(DecodeFixed64At(*value, 9));
  cell.red_since = DecodeTime(DecodeFixed64At(*value, 10));
  cell.no_action_due = DecodeTime(DecodeFixed64At(*value, 11));
  cell.open_rules = static_cast<uint32_t>(DecodeFixed64At(*value, 12));
  cell.pace.from = {DecodeTime(DecodeFixed64At(*value, 13)),
                    DoubleFromBits(DecodeFixed64At(*value, 14))};
  cell.pace.next = {DecodeTime(DecodeFixed64At(*value, 15)),
                    DoubleFromBits(DecodeFixed64At(*value, 16))};
  cell.projection_missed = DecodeFixed64At(*value, 17) != 0;
  cell.stale_due = DecodeTime(DecodeFixed64At(*value, 18));
  cell.feed_checked = DecodeFixed64At(*value, 19) != 0;
  cell.action_overdue_due = DecodeTime(DecodeFixed64At(*value, 20));
  cell.overdue_rule = static_cast<int32_t>(DecodeFixed64At(*value, 21));
  cell.overdue_generation = DecodeFixed64At(*value, 22);
  return cell;
}

absl::StatusOr<std::optional<AlertIndex>> DecodeIndex(
    absl::string_view key, const std::optional<std::string>& value) {
  if (!value) return std::nullopt;
  if (value->size() != 24) return Malformed("index", key);
  return AlertIndex{DecodeFixed64At(*value, 0),
                    DecodeFixed64At(*value, 1) != 0,
                    static_cast<KpiStatus>(DecodeFixed64At(*value, 2))};
}

}  // namespace

absl::StatusOr<std::unique_ptr<AlertStore>> AlertStore::Open(
    const std::string& path) {
  ASSIGN_OR_RETURN(auto db,
                   StateDb::Open({path,
                                  {"cells", "index", "alerts", "due",
                                   "deferred", "feed", "feed_checks",
                                   "silences"},
                                  "strata.alerts/7"}));
  ASSIGN_OR_RETURN(std::optional<std::string> feed_id, db->Get(kFeed, ""));
  if (!feed_id) {
    feed_id = NewRecordId().substr(0, 16);
    rocksdb::WriteBatch batch;
    batch.Put(db->family(kFeed), "", *feed_id);
    RETURN_IF_ERROR(db->Write(batch));
  }
  int64_t last = 0;
  std::unique_ptr<rocksdb::Iterator> it(
      db->db().NewIterator(rocksdb::ReadOptions(), db->family(kFeed)));
  it->SeekToLast();
  RETURN_IF_ERROR(FromRocksDb(it->status()));
  if (it->Valid() && !it->key().empty()) {
    if (it->key().size() != 8) return Malformed("feed key", it->key().ToString());
    last = static_cast<int64_t>(absl::big_endian::Load64(it->key().data()));
  }
  return std::unique_ptr<AlertStore>(
      new AlertStore(std::move(db), *std::move(feed_id), last));
}

absl::StatusOr<std::vector<v1::Alert>> AlertStore::FeedAfter(int64_t after,
                                                             size_t limit) {
  return ReadAlerts(kFeed, FeedKey(after + 1), limit, "feed entry");
}

absl::StatusOr<std::vector<v1::Alert>> AlertStore::ReadAlerts(
    size_t family, absl::string_view from, size_t limit,
    absl::string_view what) {
  std::vector<v1::Alert> alerts;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db().NewIterator(rocksdb::ReadOptions(), db_->family(family)));
  for (it->Seek(rocksdb::Slice(from.data(), from.size()));
       it->Valid() && alerts.size() < limit; it->Next()) {
    v1::Alert alert;
    if (!alert.ParseFromArray(it->value().data(),
                              static_cast<int>(it->value().size()))) {
      return Malformed(what, it->key().ToString());
    }
    alerts.push_back(std::move(alert));
  }
  RETURN_IF_ERROR(FromRocksDb(it->status()));
  return alerts;
}

absl::StatusOr<std::optional<CellStatus>> AlertStore::GetCell(
    const std::string& key) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, db_->Get(kCells, key));
  return DecodeCell(key, value);
}

absl::StatusOr<std::vector<std::optional<CellStatus>>> AlertStore::GetCells(
    const std::vector<absl::string_view>& keys) {
  ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> values,
                   db_->GetMany(kCells, keys));
  std::vector<std::optional<CellStatus>> cells(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSIGN_OR_RETURN(cells[i], DecodeCell(keys[i], values[i]));
  }
  return cells;
}

absl::StatusOr<std::optional<AlertIndex>> AlertStore::GetIndex(
    const std::string& key) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, db_->Get(kIndex, key));
  return DecodeIndex(key, value);
}

absl::StatusOr<std::vector<std::optional<AlertIndex>>> AlertStore::GetIndexes(
    const std::vector<absl::string_view>& keys) {
  ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> values,
                   db_->GetMany(kIndex, keys));
  std::vector<std::optional<AlertIndex>> indexes(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSIGN_OR_RETURN(indexes[i], DecodeIndex(keys[i], values[i]));
  }
  return indexes;
}

absl::StatusOr<std::optional<v1::Alert>> AlertStore::GetAlert(
    const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, db_->Get(kAlerts, id));
  if (!value) return std::nullopt;
  v1::Alert alert;
  if (!alert.ParseFromString(*value)) return Malformed("alert", id);
  return alert;
}

absl::StatusOr<std::vector<v1::Silence>> AlertStore::ListSilences() {
  std::vector<v1::Silence> silences;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db().NewIterator(rocksdb::ReadOptions(), db_->family(kSilences)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::Silence silence;
    if (!silence.ParseFromArray(it->value().data(),
                                static_cast<int>(it->value().size()))) {
      return Malformed("silence", it->key().ToString());
    }
    silences.push_back(std::move(silence));
  }
  RETURN_IF_ERROR(FromRocksDb(it->status()));
  return silences;
}

absl::StatusOr<std::optional<v1::Silence>> AlertStore::GetSilence(
    const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, db_->Get(kSilences, id));
  if (!value) return std::nullopt;
  v1::Silence silence;
  if (!silence.ParseFromString(*value)) return Malformed("silence", id);
  return silence;
}

absl::StatusOr<std::optional<int64_t>> AlertStore::NextFeedCheck(
    const std::string& schedule) {
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   db_->Get(kFeedChecks, schedule));
  if (!value) return std::nullopt;
  if (value->size() != 8) return Malformed("feed check", schedule);
  return DecodeFixed64At(*value, 0);
}

absl::StatusOr<std::vector<std::string>> AlertStore::CellsDueBy(absl::Time t,
                                                               size_t limit) {
  std::vector<std::string> cells;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db().NewIterator(rocksdb::ReadOptions(), db_->family(kDue)));
  for (it->SeekToFirst(); it->Valid() && cells.size() < limit; it->Next()) {
    if (it->key().size() < 8) return Malformed("due entry", it->key().ToString());
    if (TimeOfDueKey(absl::string_view(it->key().data(), 8)) > t) break;
    cells.emplace_back(it->key().data() + 8, it->key().size() - 8);
  }
  RETURN_IF_ERROR(FromRocksDb(it->status()));
  return cells;
}

absl::StatusOr<std::vector<std::string>> AlertStore::DeferredActions(
    const std::string& cell_key) {
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   db_->Get(kDeferred, cell_key));
  // Each: its length (8 bytes), then its bytes.
  std::vector<std::string> envelopes;
  const std::string stored = value.value_or("");
  absl::string_view rest = stored;
  while (!rest.empty()) {
    if (rest.size() < 8) return Malformed("deferred actions", cell_key);
    const uint64_t length = static_cast<uint64_t>(DecodeFixed64At(rest, 0));
    if (length > rest.size() - 8) return Malformed("deferred actions", cell_key);
    envelopes.emplace_back(rest.substr(8, length));
    rest.remove_prefix(8 + length);
  }
  return envelopes;
}

absl::StatusOr<absl::Time> AlertStore::EarliestDue() {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db().NewIterator(rocksdb::ReadOptions(), db_->family(kDue)));
  it->SeekToFirst();
  RETURN_IF_ERROR(FromRocksDb(it->status()));
  if (!it->Valid()) return absl::InfiniteFuture();
  if (it->key().size() < 8) return Malformed("due entry", it->key().ToString());
  return TimeOfDueKey(absl::string_view(it->key().data(), 8));
}

absl::StatusOr<std::vector<v1::Alert>> AlertStore::ListAlerts() {
  return ReadAlerts(kAlerts, "", std::numeric_limits<size_t>::max(), "alert");
}

absl::StatusOr<eventlog::Position> AlertStore::Position(
    const eventlog::TopicPartition& tp) {
  return eventlog::StoredPosition(*db_, tp);
}

absl::Status AlertStore::Commit(AlertChanges& changes) {
  rocksdb::WriteBatch batch;
  for (const auto& [due, key] : changes.unscheduled) {
    batch.Delete(db_->family(kDue), DueKey(due, key));
  }
  for (const auto& [key, cell] : changes.cells) {
    batch.Put(db_->family(kCells), key,
              EncodeFixed64s({BitsOfDouble(cell.actual),
                              BitsOfDouble(cell.target), cell.version,
                              static_cast<int64_t>(cell.status),
                              EncodeTime(cell.judged_at), EncodeTime(cell.due),
                              EncodeTime(cell.action_due),
                              EncodeTime(cell.escalation_due),
                              BitsOfDouble(cell.last_score),
                              BitsOfDouble(cell.best_score),
                              EncodeTime(cell.red_since),
                              EncodeTime(cell.no_action_due),
                              static_cast<int64_t>(cell.open_rules),
                              EncodeTime(cell.pace.from.time),
                              BitsOfDouble(cell.pace.from.actual),
                              EncodeTime(cell.pace.next.time),
                              BitsOfDouble(cell.pace.next.actual),
                              cell.projection_missed ? 1 : 0,
                              EncodeTime(cell.stale_due),
                              cell.feed_checked ? 1 : 0,
                              EncodeTime(cell.action_overdue_due),
                              cell.overdue_rule, cell.overdue_generation}));
    if (NextWake(cell) != absl::InfiniteFuture()) {
      batch.Put(db_->family(kDue), DueKey(NextWake(cell), key), "");
    }
  }
  for (const auto& [key, index] : changes.index) {
    batch.Put(db_->family(kIndex), key,
              EncodeFixed64s({index.generation, index.open ? 1 : 0,
                              static_cast<int64_t>(index.best_since_resolved)}));
  }
  int64_t sequence = last_sequence_.load();
  for (v1::Alert& alert : changes.alerts) {
    alert.set_sequence(++sequence);
    const std::string value = alert.SerializeAsString();
    batch.Put(db_->family(kAlerts), alert.alert_id(), value);
    batch.Put(db_->family(kFeed), FeedKey(sequence), value);
  }
  for (const std::string& id : changes.undeferred) {
    batch.Delete(db_->family(kDeferred), id);
  }
  for (const auto& [id, envelopes] : changes.deferred) {
    std::string value;
    for (const std::string& envelope : envelopes) {
      absl::StrAppend(&value,
                      EncodeFixed64s({static_cast<int64_t>(envelope.size())}),
                      envelope);
    }
    batch.Put(db_->family(kDeferred), id, value);
  }
  for (const auto& [schedule, next] : changes.feed_checks) {
    batch.Put(db_->family(kFeedChecks), schedule, EncodeFixed64s({next}));
  }
  for (const v1::Silence& silence : changes.silences) {
    batch.Put(db_->family(kSilences), silence.silence_id(),
              silence.SerializeAsString());
  }
  eventlog::PutPositions(batch, changes.positions);
  RETURN_IF_ERROR(db_->Write(batch));
  last_sequence_.store(sequence);
  return absl::OkStatus();
}

}  // namespace strata::alerts
