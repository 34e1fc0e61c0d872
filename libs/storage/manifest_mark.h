#pragma once

// Catches a RocksDB MANIFEST cut short. Cut at a record boundary, RocksDB
// opens it without a word and the store silently lacks the files of the
// lost records (holes in its state; measured on 7.8.3 in about 1 of 300
// cut points even with WALs tracked and atomic flushes). So the store's
// MANIFEST name and size are recorded beside it (MANIFEST_MARK) after open
// and after every flush and compaction; a MANIFEST of that name now
// shorter than recorded is damage.
//
//   RETURN_IF_ERROR(CheckManifestMark(dir));        // before DB::Open
//   options.listeners.push_back(ManifestMarkRecorder(dir));
//   ... DB::Open ...; RecordManifestMark(*db, dir);

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "rocksdb/db.h"
#include "rocksdb/listener.h"

namespace strata {

// DATA_LOSS when the MANIFEST that CURRENT names is the one recorded and
// is shorter than recorded; OK otherwise (no mark, or a newer MANIFEST).
absl::Status CheckManifestMark(const std::string& dir);

// Records `db`'s current MANIFEST and its size in `dir`.
void RecordManifestMark(rocksdb::DB& db, const std::string& dir);

// Records the mark after every flush and compaction of the store in `dir`.
std::shared_ptr<rocksdb::EventListener> ManifestMarkRecorder(std::string dir);

}  // namespace strata
