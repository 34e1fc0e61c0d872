#include "libs/storage/state_db.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/base/internal/endian.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/storage/manifest_mark.h"
#include "libs/storage/rocksdb_status.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"

namespace strata {
namespace {

std::string PositionKey(absl::string_view topic, int32_t partition) {
  return absl::StrCat("position/", topic, "/", partition);
}

}  // namespace

namespace {

constexpr char kFormatKey[] = "format";
constexpr char kRebuildMarker[] = "REBUILD";

bool IsMissingOrEmpty(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return true;
  return std::filesystem::is_empty(dir, ec) && !ec;
}

rocksdb::Options DatabaseOptions() {
  rocksdb::Options options;
  options.IncreaseParallelism(2);
  // A store whose families flushed at different points would come back
  // mutually inconsistent from a damaged MANIFEST.
  options.atomic_flush = true;
  // A WAL missing or cut short against the MANIFEST fails the open rather
  // than leaving a hole.
  options.track_and_verify_wals_in_manifest = true;
  return options;
}

rocksdb::ColumnFamilyOptions FamilyOptions(const rocksdb::Options& options) {
  rocksdb::BlockBasedTableOptions table;
  // Most look-ups are for keys not there yet (new cells, new event ids).
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions family_options(options);
  family_options.compression = rocksdb::kLZ4Compression;
  // A bloom filter over whole keys in the memtable too, so that looking up
  // a key that was never written (a new cell, a new event id) skips the
  // skiplist search.
  family_options.memtable_prefix_bloom_size_ratio = 0.1;
  family_options.memtable_whole_key_filtering = true;
  family_options.write_buffer_size = 128 << 20;
  // Commits write keys in sorted order; a per-first-byte insert hint lets
  // each memtable insert start where the previous one ended.
  family_options.memtable_insert_with_hint_prefix_extractor.reset(
      rocksdb::NewFixedPrefixTransform(1));
  family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return family_options;
}

absl::Status Damaged(const std::string& path, absl::string_view why) {
  return absl::DataLossError(
      absl::StrCat("state store ", path, " is damaged: ", why));
}

}  // namespace

absl::StatusOr<std::unique_ptr<StateDb>> StateDb::Open(
    const StateDbOptions& options) {
  const std::filesystem::path path(options.path);
  absl::StatusOr<std::unique_ptr<StateDb>> opened = OpenOrCreate(options);
  if (opened.ok() || !options.rebuild_when_damaged ||
      !(absl::IsDataLoss(opened.status()) ||
        absl::IsFailedPrecondition(opened.status()))) {
    return opened;
  }
  std::filesystem::path aside = path;
  aside += ".discarded";
  STRATA_LOG(ERROR) << opened.status() << "; moving it to " << aside.string()
                    << " and rebuilding it from the log";
  std::error_code ec;
  std::filesystem::remove_all(aside, ec);
  std::filesystem::rename(path, aside, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot move ", options.path,
                                            " aside: ", ec.message()));
  }
  return OpenOrCreate(options);
}

absl::StatusOr<std::unique_ptr<StateDb>> StateDb::OpenOrCreate(
    const StateDbOptions& options) {
  const std::filesystem::path path(options.path);
  const bool create = IsMissingOrEmpty(path);
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return absl::InternalError(absl::StrCat(options.path, ": ", ec.message()));
  if (std::filesystem::exists(path / kRebuildMarker)) {
    std::ifstream marker(path / kRebuildMarker);
    std::string reason((std::istreambuf_iterator<char>(marker)),
                       std::istreambuf_iterator<char>());
    return Damaged(options.path,
                   absl::StrCat("marked for rebuild: ",
                                absl::StripTrailingAsciiWhitespace(reason)));
  }
  if (!create) {
    if (absl::Status s = CheckManifestMark(options.path); !s.ok()) {
      return Damaged(options.path, s.message());
    }
  }
  rocksdb::Options db_options = DatabaseOptions();
  if (options.env != nullptr) db_options.env = options.env;
  db_options.listeners.push_back(ManifestMarkRecorder(options.path));
  // Only an empty directory may become a new store: a store that lost its
  // CURRENT file or a family must not open as an empty one.
  db_options.create_if_missing = create;
  db_options.error_if_exists = create;
  db_options.create_missing_column_families = create;
  const rocksdb::ColumnFamilyOptions family_options =
      FamilyOptions(db_options);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, family_options}};
  rocksdb::ColumnFamilyOptions filtered_options = family_options;
  filtered_options.compaction_filter = options.compaction_filter;
  for (const std::string& name : options.families) {
    descriptors.emplace_back(name, filtered_options);
  }
  std::unique_ptr<StateDb> state(new StateDb());
  state->path_ = options.path;
  state->created_ = create;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.path, descriptors,
                        &state->handles_, &db);
  if (!s.ok()) return Damaged(options.path, s.ToString());
  state->db_.reset(db);
  RecordManifestMark(*db, options.path);
  if (create) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    RETURN_IF_ERROR(FromRocksDb(db->Put(sync, kFormatKey, options.format)));
    return state;
  }
  std::string format;
  s = db->Get(rocksdb::ReadOptions(), kFormatKey, &format);
  if (s.IsNotFound()) format = "(none)";
  else if (!s.ok()) return Damaged(options.path, s.ToString());
  if (format != options.format) {
    return absl::FailedPreconditionError(
        absl::StrCat("state store ", options.path, " holds format ", format,
                     "; this build reads ", options.format));
  }
  if (options.verify_on_open) {
    s = db->VerifyChecksum();
    if (!s.ok()) return Damaged(options.path, s.ToString());
  }
  return state;
}

absl::StatusOr<bool> StateDb::RequestRebuild(const std::string& path,
                                             absl::string_view reason) {
  if (!std::filesystem::exists(std::filesystem::path(path) / "CURRENT")) {
    return false;
  }
  StateDb unopened;
  unopened.path_ = path;
  RETURN_IF_ERROR(unopened.MarkForRebuild(reason));
  return true;
}

absl::Status StateDb::MarkForRebuild(absl::string_view reason) {
  const std::filesystem::path marker =
      std::filesystem::path(path_) / kRebuildMarker;
  std::ofstream out(marker, std::ios::trunc);
  out << reason << "\n";
  out.flush();
  if (!out.good()) {
    return absl::InternalError(
        absl::StrCat("cannot write ", marker.string()));
  }
  return absl::OkStatus();
}

StateDb::~StateDb() {
  for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
}

absl::StatusOr<std::optional<std::string>> StateDb::Get(size_t family,
                                                        absl::string_view key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[family + 1],
                               rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(FromRocksDb(s));
  return value;
}

absl::StatusOr<std::vector<std::optional<std::string>>> StateDb::GetMany(
    size_t family, const std::vector<absl::string_view>& keys) {
  // MultiGet wants sorted keys for its fast path; answer in caller order.
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (size_t i : order) slices.emplace_back(keys[i].data(), keys[i].size());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), handles_[family + 1], slices.size(),
                slices.data(), values.data(), statuses.data(),
                /*sorted_input=*/true);
  std::vector<std::optional<std::string>> found(keys.size());
  for (size_t i = 0; i < order.size(); ++i) {
    if (statuses[i].ok()) {
      found[order[i]] = values[i].ToString();
    } else if (!statuses[i].IsNotFound()) {
      return FromRocksDb(statuses[i]);
    }
  }
  return found;
}

absl::Status StateDb::ClearInto(rocksdb::WriteBatch& batch) {
  // Key by key: a DeleteRange trips the memtable's insert hint in this
  // RocksDB (an assertion in InlineSkipList::Insert).
  for (size_t i = 0; i < handles_.size(); ++i) {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), handles_[i]));
    const rocksdb::Slice start = i == 0 ? rocksdb::Slice("position/") : "";
    for (it->Seek(start); it->Valid(); it->Next()) {
      if (i == 0 && !it->key().starts_with("position/")) break;
      batch.Delete(handles_[i], it->key());
    }
    if (!it->status().ok()) return FromRocksDb(it->status());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
StateDb::Scan(size_t family, absl::string_view begin, absl::string_view end) {
  rocksdb::ReadOptions options;
  const rocksdb::Slice upper(end.data(), end.size());
  options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(options, handles_[family + 1]));
  std::vector<std::pair<std::string, std::string>> found;
  for (it->Seek(rocksdb::Slice(begin.data(), begin.size())); it->Valid();
       it->Next()) {
    found.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocksDb(it->status());
  return found;
}

absl::StatusOr<StateDb::StoredPosition> StateDb::Position(
    absl::string_view topic, int32_t partition) {
  std::string value;
  const std::string key = PositionKey(topic, partition);
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return StoredPosition{};
  RETURN_IF_ERROR(FromRocksDb(s));
  // 8 bytes: a position written without the record's hash.
  if (value.size() != 8 && value.size() != 16) {
    return absl::DataLossError(absl::StrCat("malformed position at ", key));
  }
  StoredPosition position;
  position.offset = DecodeFixed64At(value, 0);
  if (value.size() == 16) {
    position.previous_record_hash =
        static_cast<uint64_t>(DecodeFixed64At(value, 1));
  }
  return position;
}

void StateDb::PutPosition(rocksdb::WriteBatch& batch, absl::string_view topic,
                          int32_t partition, int64_t offset,
                          uint64_t previous_record_hash) {
  batch.Put(PositionKey(topic, partition),
            EncodeFixed64s({offset, static_cast<int64_t>(previous_record_hash)}));
}

absl::Status StateDb::Write(rocksdb::WriteBatch& batch) {
  return FromRocksDb(db_->Write(rocksdb::WriteOptions(), &batch));
}

std::string EncodeFixed64s(std::initializer_list<int64_t> values) {
  std::string out(values.size() * 8, '\0');
  char* p = out.data();
  for (int64_t v : values) {
    absl::little_endian::Store64(p, static_cast<uint64_t>(v));
    p += 8;
  }
  return out;
}

int64_t DecodeFixed64At(absl::string_view encoded, size_t index) {
  return static_cast<int64_t>(
      absl::little_endian::Load64(encoded.data() + index * 8));
}

}  // namespace strata
