#include "libs/eventlog/end_offsets_mark.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace strata::eventlog {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<EndOffsets> ReadEndOffsetsMark(const std::string& dir) {
  const std::string path =
      (std::filesystem::path(dir) / kEndOffsetsMarkFile).string();
  EndOffsets ends;
  std::ifstream in(path);
  if (!in.is_open()) return ends;  // None written yet.
  std::string topic;
  int32_t partition = 0;
  int64_t end = 0;
  while (in >> topic >> partition >> end) ends[{topic, partition}] = end;
  if (!in.eof()) {
    return absl::DataLossError(absl::StrCat(path, " is unreadable"));
  }
  return ends;
}

absl::Status WriteEndOffsetsMark(const std::string& dir,
                                 const EndOffsets& ends) {
  const std::filesystem::path path =
      std::filesystem::path(dir) / kEndOffsetsMarkFile;
  const std::string temp = path.string() + ".tmp";
  std::ostringstream text;
  for (const auto& [tp, end] : ends) {
    text << tp.topic << " " << tp.partition << " " << end << "\n";
  }
  const std::string bytes = text.str();
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Errno("cannot create", temp);
  const bool written =
      ::write(fd, bytes.data(), bytes.size()) ==
          static_cast<ssize_t>(bytes.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return Errno("cannot write", temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return Errno("cannot rename to", path.string());
  }
  return absl::OkStatus();
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

}  // namespace strata::eventlog
