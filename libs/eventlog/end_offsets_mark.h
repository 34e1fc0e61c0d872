#pragma once

// A small file beside the embedded log's database recording how far each
// partition had reached, rewritten in place after every append (no fsync of
// its own: after a write the log acknowledged, so it never runs ahead of
// what the log made durable; fsynced about once a second). At the next
// open, a partition that ends before its mark lost records the log had
// acknowledged: a damaged or restored database, a write-ahead log cut
// short, or a power loss with fsync off. The log then refuses to open
// (DATA_LOSS) instead of letting new records reuse the lost offsets.
//
//   END_OFFSETS:  "strata-end-offsets <hash> <bytes>\n" then
//                 "<topic> <partition> <end>\n" per partition
//
// A mark torn by a crash in the middle of a rewrite fails its hash and
// counts as no mark (with a warning): the check is lost, never a false
// alarm.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "libs/eventlog/event_log.h"

namespace strata::eventlog {

using EndOffsets = absl::flat_hash_map<TopicPartition, int64_t>;

inline constexpr char kEndOffsetsMarkFile[] = "END_OFFSETS";

// The mark in `dir`; empty when there is none yet, or it is torn.
absl::StatusOr<EndOffsets> ReadEndOffsetsMark(const std::string& dir);

// DATA_LOSS naming the first partition of `actual` that ends before `mark`.
absl::Status CheckAgainstMark(const EndOffsets& actual, const EndOffsets& mark,
                              const std::string& dir);

// The mark file, open for rewriting. Not thread-safe.
class EndOffsetsMark {
 public:
  static absl::StatusOr<std::unique_ptr<EndOffsetsMark>> Open(
      const std::string& dir);
  ~EndOffsetsMark();

  // Rewrites the mark in place with `ends`.
  absl::Status Update(const EndOffsets& ends);
  // fsyncs what Update() wrote.
  absl::Status Sync();

 private:
  EndOffsetsMark(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  const int fd_;
  const std::string path_;
  // Of the last rewrite; the file as opened may be longer.
  size_t size_ = SIZE_MAX;
};

}  // namespace strata::eventlog
