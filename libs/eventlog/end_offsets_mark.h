#pragma once

// A small file beside the embedded log's database recording how far each
// partition had reached, rewritten (atomically, by rename) about once a
// second. At the next open, a partition that ends before its mark lost
// records the log had acknowledged: a damaged or restored database, or a
// power loss with fsync off. The log then refuses to open (DATA_LOSS)
// instead of letting new records reuse the lost offsets.
//
// The mark trails the log by up to its interval, so it catches large
// losses (a MANIFEST that dropped files) surely and the last second's
// appends not at all; the services' positions catch the rest.
//
//   END_OFFSETS:  "<topic> <partition> <end>\n" per partition

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "libs/eventlog/event_log.h"

namespace strata::eventlog {

using EndOffsets = absl::flat_hash_map<TopicPartition, int64_t>;

inline constexpr char kEndOffsetsMarkFile[] = "END_OFFSETS";

// The mark in `dir`; empty when there is none yet. DATA_LOSS when the file
// is unreadable.
absl::StatusOr<EndOffsets> ReadEndOffsetsMark(const std::string& dir);

// Replaces the mark in `dir` with `ends`, fsynced before the rename.
absl::Status WriteEndOffsetsMark(const std::string& dir,
                                 const EndOffsets& ends);

// DATA_LOSS naming the first partition of `actual` that ends before `mark`.
absl::Status CheckAgainstMark(const EndOffsets& actual, const EndOffsets& mark,
                              const std::string& dir);

}  // namespace strata::eventlog
