#include "services/alerts/alert_store.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"
#include "libs/storage/rocksdb_status.h"

namespace strata::alerts {
namespace {

enum Family : size_t { kCells = 0, kIndex, kAlerts };

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

absl::StatusOr<std::optional<CellStatus>> DecodeCell(
    absl::string_view key, const std::optional<std::string>& value) {
  if (!value) return std::nullopt;
  if (value->size() != 32) return Malformed("cell", key);
  CellStatus cell;
  cell.actual = DoubleFromBits(DecodeFixed64At(*value, 0));
  cell.target = DoubleFromBits(DecodeFixed64At(*value, 1));
  cell.version = DecodeFixed64At(*value, 2);
  cell.status = static_cast<KpiStatus>(DecodeFixed64At(*value, 3));
  return cell;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AlertStore>> AlertStore::Open(
    const std::string& path) {
  ASSIGN_OR_RETURN(auto db, StateDb::Open({path, {"cells", "index", "alerts"}, "strata.alerts/1"}));
  return std::unique_ptr<AlertStore>(new AlertStore(std::move(db)));
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
  if (!value) return std::nullopt;
  if (value->size() != 16) return Malformed("index", key);
  return AlertIndex{DecodeFixed64At(*value, 0),
                    DecodeFixed64At(*value, 1) != 0};
}

absl::StatusOr<std::optional<v1::Alert>> AlertStore::GetAlert(
    const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, db_->Get(kAlerts, id));
  if (!value) return std::nullopt;
  v1::Alert alert;
  if (!alert.ParseFromString(*value)) return Malformed("alert", id);
  return alert;
}

absl::StatusOr<std::vector<v1::Alert>> AlertStore::ListAlerts() {
  std::vector<v1::Alert> alerts;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db().NewIterator(rocksdb::ReadOptions(), db_->family(kAlerts)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::Alert alert;
    if (!alert.ParseFromArray(it->value().data(),
                              static_cast<int>(it->value().size()))) {
      return Malformed("alert", it->key().ToString());
    }
    alerts.push_back(std::move(alert));
  }
  RETURN_IF_ERROR(FromRocksDb(it->status()));
  return alerts;
}

absl::StatusOr<eventlog::Position> AlertStore::Position(
    const eventlog::TopicPartition& tp) {
  ASSIGN_OR_RETURN(StateDb::StoredPosition stored,
                   db_->Position(tp.topic, tp.partition));
  return eventlog::Position{tp, stored.offset, stored.previous_record_hash};
}

absl::Status AlertStore::Commit(const AlertChanges& changes) {
  rocksdb::WriteBatch batch;
  for (const auto& [key, cell] : changes.cells) {
    batch.Put(
        db_->family(kCells), key,
        EncodeFixed64s({BitsOfDouble(cell.actual), BitsOfDouble(cell.target),
                        cell.version, static_cast<int64_t>(cell.status)}));
  }
  for (const auto& [key, index] : changes.index) {
    batch.Put(db_->family(kIndex), key,
              EncodeFixed64s({index.generation, index.open ? 1 : 0}));
  }
  for (const v1::Alert& alert : changes.alerts) {
    batch.Put(db_->family(kAlerts), alert.alert_id(),
              alert.SerializeAsString());
  }
  for (const eventlog::Position& p : changes.positions) {
    StateDb::PutPosition(batch, p.topic_partition.topic,
                         p.topic_partition.partition, p.offset,
                         p.previous_record_hash);
  }
  return db_->Write(batch);
}

}  // namespace strata::alerts
