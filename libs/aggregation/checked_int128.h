#pragma once

// 128-bit arithmetic that reports overflow instead of wrapping.

#include "absl/numeric/int128.h"

namespace strata {

// Each stores the result in `*out` and returns true, or returns false and
// leaves `*out` unchanged when the result leaves the int128 range.
[[nodiscard]] inline bool CheckedAdd(absl::int128 a, absl::int128 b,
                                     absl::int128* out) {
  __int128 result;
  if (__builtin_add_overflow(static_cast<__int128>(a), static_cast<__int128>(b),
                             &result)) {
    return false;
  }
  *out = result;
  return true;
}

[[nodiscard]] inline bool CheckedSub(absl::int128 a, absl::int128 b,
                                     absl::int128* out) {
  __int128 result;
  if (__builtin_sub_overflow(static_cast<__int128>(a), static_cast<__int128>(b),
                             &result)) {
    return false;
  }
  *out = result;
  return true;
}

[[nodiscard]] inline bool CheckedMul(absl::int128 a, absl::int128 b,
                                     absl::int128* out) {
  __int128 result;
  if (__builtin_mul_overflow(static_cast<__int128>(a), static_cast<__int128>(b),
                             &result)) {
    return false;
  }
  *out = result;
  return true;
}

}  // namespace strata
