#pragma once

// A rocksdb::FileSystem that forwards to another (the real one by default)
// and fails reads, writes or syncs of chosen files on demand: a disk that
// errs, for tests of how a store and the services above it handle one.
//
//   auto fs = std::make_shared<FaultInjectingFileSystem>();
//   std::unique_ptr<rocksdb::Env> env = NewFaultInjectingEnv(fs);
//   StateDbOptions options = ...;
//   options.env = env.get();                  // Outlives the store.
//   ASSIGN_OR_RETURN(auto db, StateDb::Open(options));
//   fs->Fail(FaultInjectingFileSystem::Operation::kWrite, ".log");
//   db->Write(batch);                         // Fails: the WAL append did.
//   fs->Clear();                              // RocksDB recovers by itself.
//
// What fails, per operation, on files opened through this file system:
// - kRead: Read and PositionedRead of sequential files; Read, MultiRead and
//   ReadAsync of random-access files (SST blocks, after the block cache).
// - kWrite: Append and PositionedAppend of writable files (WAL, MANIFEST,
//   SSTs being written). Nothing of a failed call reaches the file.
// - kSync: Sync, Fsync and RangeSync of writable files.
// Opening, closing, renaming and deleting files, directory syncs and the
// info LOG are never failed.
//
// Thread-safe: RocksDB's threads and the test's may call in at once.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace strata {

class FaultInjectingFileSystem : public rocksdb::FileSystemWrapper {
 public:
  enum class Operation { kRead, kWrite, kSync };

  // For Fail(): every call until cleared.
  static constexpr int kUntilCleared = -1;

  explicit FaultInjectingFileSystem(
      std::shared_ptr<rocksdb::FileSystem> target =
          rocksdb::FileSystem::Default());
  ~FaultInjectingFileSystem() override;

  // Makes `operation` fail with an IOError on every file whose name (without
  // its directory) contains `file_name_part`: ".sst", ".log" (the WALs, not
  // the info LOG), "MANIFEST"; every file when empty. Fails the next
  // `count` such calls, then lets them pass again; with kUntilCleared,
  // every call until Clear(). Replaces the operation's previous fault and
  // applies to files already open too.
  void Fail(Operation operation, absl::string_view file_name_part = "",
            int count = kUntilCleared);

  // Lets `operation` (or every operation) pass again.
  void Clear(Operation operation);
  void Clear();

  // Whether injected errors are marked retryable (IOStatus::GetRetryable);
  // true by default. RocksDB treats a retryable failed write or sync as a
  // hard error: it refuses writes with it, then recovers by itself (every
  // DBOptions::bgerror_resume_retry_interval, 1 s by default) once the file
  // system works again. A non-retryable one models a disk that is gone: the
  // database refuses writes until it is reopened.
  void set_retryable(bool retryable);

  // How many calls of `operation` failed by injection so far.
  int64_t injected(Operation operation) const;

  const char* Name() const override { return "FaultInjectingFileSystem"; }

  rocksdb::IOStatus NewSequentialFile(
      const std::string& fname, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSSequentialFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomAccessFile(
      const std::string& fname, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewWritableFile(
      const std::string& fname, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(
      const std::string& fname, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(
      const std::string& fname, const std::string& old_fname,
      const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* result,
      rocksdb::IODebugContext* dbg) override;

  // Shared with the files opened through this file system, which may
  // outlive it. Public for the file wrappers only.
  class Faults;

 private:
  std::shared_ptr<Faults> faults_;
};

// An Env with the default Env's threads and clock whose files go through
// `fs`, for rocksdb::Options::env and StateDbOptions::env. It keeps `fs`
// alive and must outlive every database opened with it.
std::unique_ptr<rocksdb::Env> NewFaultInjectingEnv(
    std::shared_ptr<FaultInjectingFileSystem> fs);

}  // namespace strata
