#pragma once

// A 64-bit FNV-1a hash that is the same in every process, platform and
// release, unlike std::hash or absl::Hash (seeded per process), so values
// derived from it may be stored or decide a partition.
//
//   StableHasher h;
//   h.AddField(kpi_id);  // length-prefixed: ("ab","c") != ("a","bc")
//   h.AddInt(seconds);
//   uint64_t fingerprint = h.hash();

#include <cstdint>

#include "absl/base/internal/endian.h"
#include "absl/strings/string_view.h"

namespace strata {

class StableHasher {
 public:
  void Add(absl::string_view bytes) {
    for (unsigned char c : bytes) {
      hash_ ^= c;
      hash_ *= 1099511628211ull;
    }
  }
  void AddInt(int64_t value) {
    char bytes[8];
    absl::little_endian::Store64(bytes, static_cast<uint64_t>(value));
    Add(absl::string_view(bytes, 8));
  }
  void AddField(absl::string_view bytes) {
    AddInt(static_cast<int64_t>(bytes.size()));
    Add(bytes);
  }
  uint64_t hash() const { return hash_; }

 private:
  uint64_t hash_ = 14695981039346656037ull;
};

inline uint64_t StableHash(absl::string_view bytes) {
  StableHasher hasher;
  hasher.Add(bytes);
  return hasher.hash();
}

}  // namespace strata
