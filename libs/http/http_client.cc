#include "libs/http/http_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace strata {
namespace {

// libcurl wants its global set-up done once, before any handle.
void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t count, void* response) {
  static_cast<HttpResponse*>(response)->body.append(data, size * count);
  return size * count;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct HeadersDeleter {
  void operator()(curl_slist* headers) const { curl_slist_free_all(headers); }
};

absl::Status CurlError(CURLcode code, const std::string& url,
                       const char* detail) {
  std::string message = absl::StrCat(url, ": ", curl_easy_strerror(code));
  if (detail[0] != '\0') absl::StrAppend(&message, " (", detail, ")");
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(message);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// `body` null: a GET.
absl::StatusOr<HttpResponse> Exchange(const std::string& url,
                                      const absl::string_view* body,
                                      const std::string& content_type,
                                      absl::Duration timeout) {
  InitCurlOnce();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = "";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  // Signals would interrupt other threads of a server; timeouts do without.
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  std::unique_ptr<curl_slist, HeadersDeleter> headers;
  if (body != nullptr) {
    headers.reset(curl_slist_append(
        nullptr, absl::StrCat("Content-Type: ", content_type).c_str()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body->size()));
  }
  const CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) return CurlError(code, url, error);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status_code);
  return response;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpPost(const std::string& url,
                                      absl::string_view body,
                                      const std::string& content_type,
                                      absl::Duration timeout) {
  return Exchange(url, &body, content_type, timeout);
}

absl::StatusOr<HttpResponse> HttpGet(const std::string& url,
                                     absl::Duration timeout) {
  return Exchange(url, nullptr, "", timeout);
}

}  // namespace strata
