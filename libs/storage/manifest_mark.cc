#include "libs/storage/manifest_mark.h"

#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/logging/log.h"

namespace strata {
namespace {

constexpr char kMarkFile[] = "MANIFEST_MARK";

class Recorder final : public rocksdb::EventListener {
 public:
  explicit Recorder(std::string dir) : dir_(std::move(dir)) {}
  void OnFlushCompleted(rocksdb::DB* db,
                        const rocksdb::FlushJobInfo&) override {
    RecordManifestMark(*db, dir_);
  }
  void OnCompactionCompleted(rocksdb::DB* db,
                             const rocksdb::CompactionJobInfo&) override {
    RecordManifestMark(*db, dir_);
  }

 private:
  const std::string dir_;
};

}  // namespace

absl::Status CheckManifestMark(const std::string& dir) {
  const std::filesystem::path path(dir);
  std::ifstream mark(path / kMarkFile);
  std::string name;
  uintmax_t recorded = 0;
  if (!(mark >> name >> recorded)) return absl::OkStatus();  // No mark yet.
  std::ifstream current(path / "CURRENT");
  std::string current_name;
  if (!std::getline(current, current_name)) return absl::OkStatus();
  if (std::string(absl::StripAsciiWhitespace(current_name)) != name) {
    return absl::OkStatus();  // A newer MANIFEST since.
  }
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path / name, ec);
  if (ec) return absl::OkStatus();  // Open reports a missing MANIFEST.
  if (size < recorded) {
    return absl::DataLossError(absl::StrCat(
        name, " is ", size, " bytes but was ", recorded,
        ": cut short, the store would open with files missing"));
  }
  return absl::OkStatus();
}

void RecordManifestMark(rocksdb::DB& db, const std::string& dir) {
  std::vector<std::string> files;
  uint64_t manifest_size = 0;
  if (!db.GetLiveFiles(files, &manifest_size, /*flush_memtable=*/false).ok()) {
    return;
  }
  for (const std::string& file : files) {
    const std::string name(absl::StripPrefix(file, "/"));
    if (name.rfind("MANIFEST-", 0) != 0) continue;
    const std::filesystem::path path(dir);
    const std::filesystem::path temp = path / (std::string(kMarkFile) + ".tmp");
    {
      std::ofstream out(temp, std::ios::trunc);
      out << name << " " << manifest_size << "\n";
      if (!out.good()) return;
    }
    std::error_code ec;
    std::filesystem::rename(temp, path / kMarkFile, ec);
    if (ec) STRATA_LOG(WARNING) << "manifest mark: " << ec.message();
    return;
  }
}

std::shared_ptr<rocksdb::EventListener> ManifestMarkRecorder(std::string dir) {
  return std::make_shared<Recorder>(std::move(dir));
}

}  // namespace strata
