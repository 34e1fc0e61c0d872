#include "libs/eventlog/end_offsets_mark.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/hash/stable_hash.h"
#include "libs/logging/log.h"

namespace strata::eventlog {
namespace {

constexpr char kMagic[] = "strata-end-offsets";

std::string MarkPath(const std::string& dir) {
  return (std::filesystem::path(dir) / kEndOffsetsMarkFile).string();
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<EndOffsets> ReadEndOffsetsMark(const std::string& dir) {
  const std::string path = MarkPath(dir);
  EndOffsets ends;
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return ends;  // None written yet.
  std::string header;
  std::getline(in, header);
  const std::string rest((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  std::vector<std::string> fields = absl::StrSplit(header, ' ');
  uint64_t hash = 0;
  size_t size = 0;
  if (fields.size() != 3 || fields[0] != kMagic ||
      !absl::SimpleAtoi(fields[1], &hash) ||
      !absl::SimpleAtoi(fields[2], &size) || size > rest.size() ||
      StableHash(absl::string_view(rest).substr(0, size)) != hash) {
    STRATA_LOG(WARNING) << path << " is torn or unreadable; not checked";
    return ends;
  }
  std::istringstream body(rest.substr(0, size));
  std::string topic;
  int32_t partition = 0;
  int64_t end = 0;
  while (body >> topic >> partition >> end) ends[{topic, partition}] = end;
  return ends;
}

absl::Status CheckAgainstMark(const EndOffsets& actual, const EndOffsets& mark,
                              const std::string& dir) {
  for (const auto& [tp, marked] : mark) {
    auto it = actual.find(tp);
    const int64_t end = it == actual.end() ? 0 : it->second;
    if (end < marked) {
      return absl::DataLossError(absl::StrCat(
          "event log ", dir, ": ", tp.topic, "/", tp.partition, " ends at ",
          end, " but had reached ", marked, ": ", marked - end,
          " acknowledged records are gone (a damaged or restored log "
          "directory, or a power loss with --log_fsync=false). Refusing to "
          "open; see the README, 'Damage and recovery'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<EndOffsetsMark>> EndOffsetsMark::Open(
    const std::string& dir) {
  const std::string path = MarkPath(dir);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd < 0) return Errno("cannot open", path);
  return std::unique_ptr<EndOffsetsMark>(new EndOffsetsMark(fd, path));
}

EndOffsetsMark::~EndOffsetsMark() { ::close(fd_); }

absl::Status EndOffsetsMark::Update(const EndOffsets& ends) {
  std::string body;
  for (const auto& [tp, end] : ends) {
    absl::StrAppend(&body, tp.topic, " ", tp.partition, " ", end, "\n");
  }
  const std::string bytes =
      absl::StrCat(kMagic, " ", StableHash(body), " ", body.size(), "\n", body);
  if (::pwrite(fd_, bytes.data(), bytes.size(), 0) !=
      static_cast<ssize_t>(bytes.size())) {
    return Errno("cannot write", path_);
  }
  // Cut only when the mark got shorter: most rewrites keep its length.
  if (bytes.size() < size_ &&
      ::ftruncate(fd_, static_cast<off_t>(bytes.size())) != 0) {
    return Errno("cannot truncate", path_);
  }
  size_ = bytes.size();
  return absl::OkStatus();
}

absl::Status EndOffsetsMark::Sync() {
  if (::fdatasync(fd_) != 0) return Errno("cannot sync", path_);
  return absl::OkStatus();
}

}  // namespace strata::eventlog
