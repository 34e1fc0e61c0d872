#include "libs/storage/testing/fault_injecting_file_system.h"

#include <array>
#include <atomic>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace strata {
namespace {

using Operation = FaultInjectingFileSystem::Operation;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

const char* NameOf(Operation operation) {
  switch (operation) {
    case Operation::kRead:
      return "read";
    case Operation::kWrite:
      return "write";
    case Operation::kSync:
      return "sync";
  }
  return "?";
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

// The armed fault of each operation. Calls check an atomic flag first, so
// that an unarmed operation costs no lock.
class FaultInjectingFileSystem::Faults {
 public:
  void Set(Operation operation, absl::string_view part, int count) {
    absl::MutexLock lock(&mu_);
    Fault& fault = faults_[Index(operation)];
    fault.part = std::string(part);
    fault.remaining = count;
    armed_[Index(operation)] = count != 0;
  }

  void Clear(Operation operation) {
    absl::MutexLock lock(&mu_);
    armed_[Index(operation)] = false;
  }

  void set_retryable(bool retryable) {
    absl::MutexLock lock(&mu_);
    retryable_ = retryable;
  }

  int64_t injected(Operation operation) const {
    absl::MutexLock lock(&mu_);
    return faults_[Index(operation)].injected;
  }

  // OK, or the failure injected into this call of `operation` on `file`.
  IOStatus Check(Operation operation, const std::string& file) {
    if (!armed_[Index(operation)].load(std::memory_order_acquire)) {
      return IOStatus::OK();
    }
    absl::MutexLock lock(&mu_);
    std::atomic<bool>& armed = armed_[Index(operation)];
    Fault& fault = faults_[Index(operation)];
    if (!armed || !absl::StrContains(file, fault.part)) return IOStatus::OK();
    if (fault.remaining > 0 && --fault.remaining == 0) armed = false;
    ++fault.injected;
    IOStatus failure = IOStatus::IOError(
        absl::StrCat("injected ", NameOf(operation), " failure"), file);
    failure.SetRetryable(retryable_);
    return failure;
  }

 private:
  struct Fault {
    std::string part;
    int remaining = 0;  // Negative: until cleared.
    int64_t injected = 0;
  };

  static size_t Index(Operation operation) {
    return static_cast<size_t>(operation);
  }

  std::array<std::atomic<bool>, 3> armed_{};  // Written under mu_.
  mutable absl::Mutex mu_;
  std::array<Fault, 3> faults_ ABSL_GUARDED_BY(mu_);
  bool retryable_ ABSL_GUARDED_BY(mu_) = true;
};

namespace {

using Faults = FaultInjectingFileSystem::Faults;

class SequentialFile final : public rocksdb::FSSequentialFileOwnerWrapper {
 public:
  SequentialFile(std::unique_ptr<rocksdb::FSSequentialFile> file,
                 std::string name, std::shared_ptr<Faults> faults)
      : FSSequentialFileOwnerWrapper(std::move(file)),
        name_(std::move(name)),
        faults_(std::move(faults)) {}

  IOStatus Read(size_t n, const IOOptions& options, Slice* result,
                char* scratch, IODebugContext* dbg) override {
    IOStatus injected = faults_->Check(Operation::kRead, name_);
    if (!injected.ok()) return injected;
    return FSSequentialFileOwnerWrapper::Read(n, options, result, scratch, dbg);
  }

  IOStatus PositionedRead(uint64_t offset, size_t n, const IOOptions& options,
                          Slice* result, char* scratch,
                          IODebugContext* dbg) override {
    IOStatus injected = faults_->Check(Operation::kRead, name_);
    if (!injected.ok()) return injected;
    return FSSequentialFileOwnerWrapper::PositionedRead(offset, n, options,
                                                        result, scratch, dbg);
  }

 private:
  const std::string name_;
  const std::shared_ptr<Faults> faults_;
};

class RandomAccessFile final : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  RandomAccessFile(std::unique_ptr<rocksdb::FSRandomAccessFile> file,
                   std::string name, std::shared_ptr<Faults> faults)
      : FSRandomAccessFileOwnerWrapper(std::move(file)),
        name_(std::move(name)),
        faults_(std::move(faults)) {}

  IOStatus Read(uint64_t offset, size_t n, const IOOptions& options,
                Slice* result, char* scratch,
                IODebugContext* dbg) const override {
    IOStatus injected = faults_->Check(Operation::kRead, name_);
    if (!injected.ok()) return injected;
    return FSRandomAccessFileOwnerWrapper::Read(offset, n, options, result,
                                                scratch, dbg);
  }

  IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs,
                     const IOOptions& options, IODebugContext* dbg) override {
    IOStatus injected = faults_->Check(Operation::kRead, name_);
    if (!injected.ok()) {
      for (size_t i = 0; i < num_reqs; ++i) {
        reqs[i].result = Slice();
        reqs[i].status = injected;
      }
      return injected;
    }
    return FSRandomAccessFileOwnerWrapper::MultiRead(reqs, num_reqs, options,
                                                     dbg);
  }

  IOStatus ReadAsync(
      rocksdb::FSReadRequest& req, const IOOptions& options,
      std::function<void(const rocksdb::FSReadRequest&, void*)> cb,
      void* cb_arg, void** io_handle, rocksdb::IOHandleDeleter* del_fn,
      IODebugContext* dbg) override {
    IOStatus injected = faults_->Check(Operation::kRead, name_);
    if (!injected.ok()) return injected;
    return FSRandomAccessFileOwnerWrapper::ReadAsync(
        req, options, std::move(cb), cb_arg, io_handle, del_fn, dbg);
  }

 private:
  const std::string name_;
  const std::shared_ptr<Faults> faults_;
};

class WritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  WritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, std::string name,
               std::shared_ptr<Faults> faults)
      : FSWritableFileOwnerWrapper(std::move(file)),
        name_(std::move(name)),
        faults_(std::move(faults)) {}

  IOStatus Append(const Slice& data, const IOOptions& options,
                  IODebugContext* dbg) override {
    IOStatus injected = faults_->Check(Operation::kWrite, name_);
    if (!injected.ok()) return injected;
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  IOStatus Append(const Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& info,
                  IODebugContext* dbg) override {
    IOStatus injected = faults_->Check(Operation::kWrite, name_);
    if (!injected.ok()) return injected;
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset,
                            const IOOptions& options,
                            IODebugContext* dbg) override {
    IOStatus injected = faults_->Check(Operation::kWrite, name_);
    if (!injected.ok()) return injected;
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options,
                                                        dbg);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset,
                            const IOOptions& options,
                            const rocksdb::DataVerificationInfo& info,
                            IODebugContext* dbg) override {
    IOStatus injected = faults_->Check(Operation::kWrite, name_);
    if (!injected.ok()) return injected;
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options,
                                                        info, dbg);
  }

  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    IOStatus injected = faults_->Check(Operation::kSync, name_);
    if (!injected.ok()) return injected;
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    IOStatus injected = faults_->Check(Operation::kSync, name_);
    if (!injected.ok()) return injected;
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions& options,
                     IODebugContext* dbg) override {
    IOStatus injected = faults_->Check(Operation::kSync, name_);
    if (!injected.ok()) return injected;
    return FSWritableFileOwnerWrapper::RangeSync(offset, nbytes, options, dbg);
  }

 private:
  const std::string name_;
  const std::shared_ptr<Faults> faults_;
};

// Wraps a file the target just opened, when it did.
template <typename Wrapper, typename File>
IOStatus Wrapped(IOStatus opened, const std::string& fname,
                 const std::shared_ptr<Faults>& faults,
                 std::unique_ptr<File>* result) {
  if (opened.ok()) {
    *result =
        std::make_unique<Wrapper>(std::move(*result), BaseName(fname), faults);
  }
  return opened;
}

}  // namespace

FaultInjectingFileSystem::FaultInjectingFileSystem(
    std::shared_ptr<rocksdb::FileSystem> target)
    : FileSystemWrapper(target), faults_(std::make_shared<Faults>()) {}

FaultInjectingFileSystem::~FaultInjectingFileSystem() = default;

void FaultInjectingFileSystem::Fail(Operation operation,
                                    absl::string_view file_name_part,
                                    int count) {
  faults_->Set(operation, file_name_part, count);
}

void FaultInjectingFileSystem::Clear(Operation operation) {
  faults_->Clear(operation);
}

void FaultInjectingFileSystem::Clear() {
  for (Operation operation :
       {Operation::kRead, Operation::kWrite, Operation::kSync}) {
    faults_->Clear(operation);
  }
}

void FaultInjectingFileSystem::set_retryable(bool retryable) {
  faults_->set_retryable(retryable);
}

int64_t FaultInjectingFileSystem::injected(Operation operation) const {
  return faults_->injected(operation);
}

IOStatus FaultInjectingFileSystem::NewSequentialFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSSequentialFile>* result, IODebugContext* dbg) {
  return Wrapped<SequentialFile>(
      target()->NewSequentialFile(fname, options, result, dbg), fname, faults_,
      result);
}

IOStatus FaultInjectingFileSystem::NewRandomAccessFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSRandomAccessFile>* result, IODebugContext* dbg) {
  return Wrapped<RandomAccessFile>(
      target()->NewRandomAccessFile(fname, options, result, dbg), fname,
      faults_, result);
}

IOStatus FaultInjectingFileSystem::NewWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, IODebugContext* dbg) {
  return Wrapped<WritableFile>(
      target()->NewWritableFile(fname, options, result, dbg), fname, faults_,
      result);
}

IOStatus FaultInjectingFileSystem::ReopenWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, IODebugContext* dbg) {
  return Wrapped<WritableFile>(
      target()->ReopenWritableFile(fname, options, result, dbg), fname, faults_,
      result);
}

IOStatus FaultInjectingFileSystem::ReuseWritableFile(
    const std::string& fname, const std::string& old_fname,
    const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, IODebugContext* dbg) {
  return Wrapped<WritableFile>(
      target()->ReuseWritableFile(fname, old_fname, options, result, dbg),
      fname, faults_, result);
}

std::unique_ptr<rocksdb::Env> NewFaultInjectingEnv(
    std::shared_ptr<FaultInjectingFileSystem> fs) {
  return rocksdb::NewCompositeEnv(std::move(fs));
}

}  // namespace strata
