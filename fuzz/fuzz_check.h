#pragma once

// For libFuzzer targets (*_fuzz.cc): an invariant that must hold for every
// input. A broken one aborts, so the fuzzer keeps the input as a crash.
//
//   FUZZ_CHECK(status.ok() || !status.message().empty());

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                         \
  do {                                                                \
    if (!(condition)) {                                               \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, \
                   __LINE__, #condition);                             \
      std::abort();                                                   \
    }                                                                 \
  } while (0)
