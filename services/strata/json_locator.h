#pragma once

// Where each field of a JSON document is, by line, so that an error naming
// a field path ("changes[2].kpi.thresholds") can point at the file's line.
//
//   auto locator = JsonLocator::Parse(text);   // INVALID_ARGUMENT "line 7: ..."
//   locator->LineOf("changes[2].kpi.thresholds");   // 41
//
// Keys match whatever their spelling: "target_profile" and "targetProfile"
// are one key, as the protobuf JSON mapping accepts both.

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strata {

class JsonLocator {
 public:
  // INVALID_ARGUMENT naming the line of the first syntax error.
  static absl::StatusOr<JsonLocator> Parse(absl::string_view json);

  // The line (from 1) of the deepest field on `path` the document has: a
  // path into a field the document leaves out points at its parent.
  std::optional<int> LineOf(absl::string_view path) const;

 private:
  class Scanner;

  // By normalised path: keys lowercased without '_', indexes as "[i]".
  std::map<std::string, int> lines_;
};

// "target_profile" and "targetProfile" alike: "targetprofile".
std::string NormalisedJsonKey(absl::string_view key);

}  // namespace strata
