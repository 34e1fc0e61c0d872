#pragma once

// google.protobuf.Timestamp <-> absl::Time at full precision, without
// protobuf's TimeUtil, whose conversions abort the process on a time out
// of Timestamp's range (0001-01-01 .. 9999-12-31) and cut to microseconds.
//
//   if (!InTimestampRange(time)) return InvalidArgumentError(...);
//   *event.mutable_event_time() = ToTimestamp(time);

#include <algorithm>
#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace strata {

inline constexpr int64_t kMinTimestampSeconds = -62135596800;  // 0001-01-01
inline constexpr int64_t kMaxTimestampSeconds = 253402300799;  // 9999-12-31

inline bool InTimestampRange(absl::Time time) {
  return time >= absl::FromUnixSeconds(kMinTimestampSeconds) &&
         time < absl::FromUnixSeconds(kMaxTimestampSeconds + 1);
}

// `time` clamped into Timestamp's range, to the nanosecond.
inline google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  time = std::clamp(time, absl::FromUnixSeconds(kMinTimestampSeconds),
                    absl::FromUnixSeconds(kMaxTimestampSeconds) +
                        absl::Nanoseconds(999'999'999));
  google::protobuf::Timestamp timestamp;
  const int64_t seconds = absl::ToUnixSeconds(time);  // Rounds down.
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return timestamp;
}

inline absl::Time FromTimestamp(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

}  // namespace strata
