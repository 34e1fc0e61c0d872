#pragma once

// A small blocking HTTP client (libcurl) for the few calls Strata makes to
// other systems, such as pushing alerts to an Alertmanager.
//
//   ASSIGN_OR_RETURN(HttpResponse r,
//                    HttpPost(url, body, "application/json", absl::Seconds(5)));
//   if (r.status_code != 200) ...

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace strata {

struct HttpResponse {
  long status_code = 0;
  std::string body;
};

// UNAVAILABLE when the server cannot be reached or the exchange breaks off,
// DEADLINE_EXCEEDED past `timeout`, INVALID_ARGUMENT for a URL libcurl does
// not take. Any HTTP status is a response, not an error.
absl::StatusOr<HttpResponse> HttpPost(const std::string& url,
                                      absl::string_view body,
                                      const std::string& content_type,
                                      absl::Duration timeout);
absl::StatusOr<HttpResponse> HttpGet(const std::string& url,
                                     absl::Duration timeout);

}  // namespace strata
