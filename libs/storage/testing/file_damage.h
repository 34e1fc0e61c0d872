#pragma once

// Damage for tests of what a store does with it.
//
//   FlipByte(LargestFile(dir, ".sst"), size / 4);

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace strata::testing {

// The largest file in `dir` whose name ends in `suffix`; empty if none.
inline std::filesystem::path LargestFile(const std::filesystem::path& dir,
                                         const std::string& suffix) {
  std::filesystem::path largest;
  uintmax_t size = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix)) {
      continue;
    }
    if (entry.file_size() > size) {
      size = entry.file_size();
      largest = entry.path();
    }
  }
  return largest;
}

// Inverts some bits of the byte at `offset`, so it surely changes.
inline void FlipByte(const std::filesystem::path& file, uintmax_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.get(c);
  f.seekp(offset);
  f.put(static_cast<char>(c ^ 0x5a));
}

}  // namespace strata::testing
