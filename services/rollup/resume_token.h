#pragma once

// Where a WatchRollups stream stands in the changelog: the next offset of
// every partition, as an opaque token a client hands back to resume.
//
//   std::string token = EncodeResumeToken({12, 0, 7});   // "r1.12.0.7"
//   ASSIGN_OR_RETURN(std::vector<int64_t> next,
//                    ParseResumeToken(token, /*partitions=*/3));

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strata::rollup {

std::string EncodeResumeToken(const std::vector<int64_t>& next_offsets);

// INVALID_ARGUMENT naming the problem when `token` is malformed or made for
// another number of partitions.
absl::StatusOr<std::vector<int64_t>> ParseResumeToken(absl::string_view token,
                                                      int32_t partitions);

}  // namespace strata::rollup
