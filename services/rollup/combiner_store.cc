#include "services/rollup/combiner_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/eventlog/outbox.h"
#include "libs/eventlog/stored_positions.h"
#include "libs/status/status_macros.h"
#include "services/rollup/cell_codec.h"

namespace strata::rollup {
namespace {

enum Family : size_t { kParts = 0, kMeta };

// "<cell key>\0<fold partition>": a cell's parts are one key range (cell
// keys hold no NUL).
std::string PartKey(absl::string_view cell_key, int32_t partition) {
  return absl::StrCat(cell_key, absl::string_view("\0", 1), partition);
}

// Epoch, then the part, then the reported part if any.
std::string EncodePart(const StoredPart& part) {
  std::string encoded = EncodeFixed64s({part.version_epoch});
  encoded += EncodeCell(part.cell);
  if (part.reported) encoded += EncodeCell(*part.reported);
  return encoded;
}

std::optional<StoredPart> DecodePart(absl::string_view encoded) {
  const size_t cell_size = EncodeCell(RollupCell{}).size();
  if (encoded.size() != 8 + cell_size && encoded.size() != 8 + 2 * cell_size) {
    return std::nullopt;
  }
  StoredPart part;
  part.version_epoch = DecodeFixed64At(encoded, 0);
  std::optional<RollupCell> cell = DecodeCell(encoded.substr(8, cell_size));
  if (!cell) return std::nullopt;
  part.cell = *cell;
  if (encoded.size() > 8 + cell_size) {
    part.reported = DecodeCell(encoded.substr(8 + cell_size));
    if (!part.reported) return std::nullopt;
  }
  return part;
}

// A part's key and value, decoded: ((cell key, fold partition), part).
absl::StatusOr<std::pair<std::pair<std::string, int32_t>, StoredPart>>
DecodeEntry(absl::string_view key, absl::string_view value) {
  const size_t separator = key.find('\0');
  int32_t partition = 0;
  std::optional<StoredPart> part = DecodePart(value);
  if (separator == absl::string_view::npos ||
      !absl::SimpleAtoi(key.substr(separator + 1), &partition) || !part) {
    return absl::DataLossError(absl::StrCat(
        "rollup combine: malformed part of '", key.substr(0, separator), "'"));
  }
  return std::make_pair(
      std::make_pair(std::string(key.substr(0, separator)), partition),
      *std::move(part));
}

constexpr char kEndOfKeys[] = "\xff\xff\xff\xff";
constexpr char kSweptPrefix[] = "swept/";
constexpr char kLatestEpochKey[] = "latest_epoch";
constexpr char kFoldPartitionsKey[] = "fold_partitions";
constexpr char kDeferredPrefix[] = "deferred/";

// "completed/<partials partition>/<fold partition>"; with a negative fold
// partition, the prefix of the partials partition's entries.
std::string CompletedKey(int32_t partition, int32_t fold_partition) {
  std::string key = absl::StrCat("completed/", partition, "/");
  if (fold_partition >= 0) absl::StrAppend(&key, fold_partition);
  return key;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CombinerStore>> CombinerStore::Open(
    const std::string& path) {
  StateDbOptions options;
  options.path = path;
  options.families = {"parts", "meta"};
  options.format = "strata.rollup-combine/1";
  ASSIGN_OR_RETURN(auto db, StateDb::Open(options));
  return std::unique_ptr<CombinerStore>(new CombinerStore(std::move(db)));
}

absl::StatusOr<CellParts> CombinerStore::Parts(absl::string_view cell_key) {
  ASSIGN_OR_RETURN(
      auto entries,
      db_->Scan(kParts, absl::StrCat(cell_key, absl::string_view("\0", 1)),
                absl::StrCat(cell_key, "\x01")));
  CellParts parts;
  for (const auto& [key, value] : entries) {
    ASSIGN_OR_RETURN(auto part, DecodeEntry(key, value));
    parts.emplace(part.first.second, std::move(part.second));
  }
  return parts;
}

absl::StatusOr<std::map<std::string, CellParts>> CombinerStore::AllParts() {
  ASSIGN_OR_RETURN(auto entries, db_->Scan(kParts, "", kEndOfKeys));
  std::map<std::string, CellParts> cells;
  for (const auto& [key, value] : entries) {
    ASSIGN_OR_RETURN(auto part, DecodeEntry(key, value));
    cells[part.first.first].emplace(part.first.second, std::move(part.second));
  }
  return cells;
}

absl::StatusOr<std::map<int32_t, int64_t>> CombinerStore::CompletedEpochs(
    int32_t partition) {
  const std::string prefix = CompletedKey(partition, -1);
  ASSIGN_OR_RETURN(auto entries,
                   db_->Scan(kMeta, prefix, absl::StrCat(prefix, kEndOfKeys)));
  std::map<int32_t, int64_t> completed;
  for (const auto& [key, value] : entries) {
    int32_t fold_partition = 0;
    if (value.size() != 8 ||
        !absl::SimpleAtoi(absl::string_view(key).substr(prefix.size()),
                          &fold_partition)) {
      return absl::DataLossError(
          absl::StrCat("rollup combine: malformed entry '", key, "'"));
    }
    completed[fold_partition] = DecodeFixed64At(value, 0);
  }
  return completed;
}

absl::StatusOr<int64_t> CombinerStore::SweptEpoch(int32_t partition) {
  return MetaInt(absl::StrCat(kSweptPrefix, partition));
}

absl::StatusOr<int64_t> CombinerStore::LatestEpoch() {
  return MetaInt(kLatestEpochKey);
}

absl::StatusOr<int64_t> CombinerStore::FoldPartitions() {
  return MetaInt(kFoldPartitionsKey);
}

absl::StatusOr<int64_t> CombinerStore::MetaInt(const std::string& key) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, db_->Get(kMeta, key));
  if (!value) return 0;
  if (value->size() != 8) {
    return absl::DataLossError(
        absl::StrCat("rollup combine: malformed entry '", key, "'"));
  }
  return DecodeFixed64At(*value, 0);
}

absl::StatusOr<eventlog::Position> CombinerStore::Position(
    const eventlog::TopicPartition& tp) {
  return eventlog::StoredPosition(*db_, tp);
}

absl::StatusOr<std::vector<std::string>> CombinerStore::Deferred() {
  ASSIGN_OR_RETURN(auto entries,
                   db_->Scan(kMeta, kDeferredPrefix,
                             absl::StrCat(kDeferredPrefix, kEndOfKeys)));
  std::vector<std::string> keys;
  keys.reserve(entries.size());
  for (const auto& [key, value] : entries) {
    keys.push_back(key.substr(sizeof(kDeferredPrefix) - 1));
  }
  return keys;
}

absl::Status CombinerStore::Commit(
    const CombineChanges& changes,
    const std::vector<eventlog::AppendRecord>& outbox) {
  return Write(changes, outbox, /*replace_outbox=*/false);
}

absl::Status CombinerStore::CommitReplacingOutbox(
    const CombineChanges& changes,
    const std::vector<eventlog::AppendRecord>& outbox) {
  return Write(changes, outbox, /*replace_outbox=*/true);
}

absl::Status CombinerStore::Write(
    const CombineChanges& changes,
    const std::vector<eventlog::AppendRecord>& outbox, bool replace_outbox) {
  rocksdb::WriteBatch batch;
  const eventlog::Outbox box(*db_, kMeta);
  if (replace_outbox) RETURN_IF_ERROR(box.ClearInto(batch));
  box.PutInto(batch, outbox);
  for (const std::string& key : changes.deferred) {
    batch.Put(db_->family(kMeta), absl::StrCat(kDeferredPrefix, key), "");
  }
  for (const std::string& key : changes.undeferred) {
    batch.Delete(db_->family(kMeta), absl::StrCat(kDeferredPrefix, key));
  }
  for (const auto& [cell_key, parts] : changes.parts) {
    for (const auto& [partition, part] : parts) {
      batch.Put(db_->family(kParts), PartKey(cell_key, partition),
                EncodePart(part));
    }
  }
  for (const auto& [cell_key, partition] : changes.dropped) {
    batch.Delete(db_->family(kParts), PartKey(cell_key, partition));
  }
  for (const auto& [partitions, epoch] : changes.completed) {
    batch.Put(db_->family(kMeta),
              CompletedKey(partitions.first, partitions.second),
              EncodeFixed64s({epoch}));
  }
  for (const auto& [partition, epoch] : changes.swept) {
    batch.Put(db_->family(kMeta), absl::StrCat(kSweptPrefix, partition),
              EncodeFixed64s({epoch}));
  }
  if (changes.fold_partitions) {
    batch.Put(db_->family(kMeta), kFoldPartitionsKey,
              EncodeFixed64s({*changes.fold_partitions}));
  }
  if (changes.latest_epoch) {
    batch.Put(db_->family(kMeta), kLatestEpochKey,
              EncodeFixed64s({*changes.latest_epoch}));
  }
  eventlog::PutPositions(batch, changes.positions);
  return db_->Write(batch);
}

absl::StatusOr<std::vector<eventlog::AppendRecord>> CombinerStore::Outbox() {
  return eventlog::Outbox(*db_, kMeta).Read();
}

absl::Status CombinerStore::ClearOutbox() {
  return eventlog::Outbox(*db_, kMeta).Clear();
}

}  // namespace strata::rollup
