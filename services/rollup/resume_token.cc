#include "services/rollup/resume_token.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/status/quote.h"

namespace strata::rollup {
namespace {

constexpr absl::string_view kVersion = "r1";

}  // namespace

std::string EncodeResumeToken(const std::vector<int64_t>& next_offsets) {
  return absl::StrCat(kVersion, ".", absl::StrJoin(next_offsets, "."));
}

absl::StatusOr<std::vector<int64_t>> ParseResumeToken(absl::string_view token,
                                                      int32_t partitions) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() < 2 || parts[0] != kVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resume_token: ", Quoted(token), " is not a token WatchRollups gave"));
  }
  if (parts.size() - 1 != static_cast<size_t>(partitions)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resume_token: made for ", parts.size() - 1,
        " partitions, the changelog has ", partitions));
  }
  std::vector<int64_t> offsets;
  for (size_t i = 1; i < parts.size(); ++i) {
    int64_t offset = 0;
    if (!absl::SimpleAtoi(parts[i], &offset) || offset < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "resume_token: ", Quoted(parts[i]), " is no offset"));
    }
    offsets.push_back(offset);
  }
  return offsets;
}

}  // namespace strata::rollup
