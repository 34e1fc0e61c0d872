#pragma once

// Echoes a caller's value in an error message: quoted, escaped, and cut to
// a bounded length, so that a 9 KB id cannot overflow the client's
// metadata limit (gRPC carries the message in a header).
//
//   absl::StrCat("unknown KPI ", Quoted(kpi_id))  // unknown KPI 'revenu'

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace strata {

inline constexpr size_t kMaxQuotedBytes = 64;

inline std::string Quoted(absl::string_view value) {
  if (value.size() <= kMaxQuotedBytes) {
    return absl::StrCat("'", absl::CHexEscape(value), "'");
  }
  return absl::StrCat("'", absl::CHexEscape(value.substr(0, kMaxQuotedBytes)),
                      "...' (", value.size(), " bytes)");
}

}  // namespace strata
