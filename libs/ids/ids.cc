#include "libs/ids/ids.h"

#include "absl/strings/str_cat.h"
#include "libs/status/quote.h"

namespace strata {

absl::Status ValidateId(absl::string_view field, absl::string_view id) {
  if (id.empty())
    return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (id.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": longer than 128"));
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                    c == ':' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", Quoted(id), " may hold only [A-Za-z0-9_.:-]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace strata
