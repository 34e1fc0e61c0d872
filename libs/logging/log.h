#pragma once

// Minimal leveled logging to stderr (Debian's Abseil has no absl/log).
//
//   STRATA_LOG(INFO) << "rollup caught up at offset " << offset;

#include <sstream>

namespace strata::logging {

enum class Severity { kInfo, kWarning, kError };

// Collects one line and writes it, with time and severity, on destruction.
class LogLine {
 public:
  LogLine(Severity severity, const char* file, int line);
  ~LogLine();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

}  // namespace strata::logging

#define STRATA_LOG_SEVERITY_INFO ::strata::logging::Severity::kInfo
#define STRATA_LOG_SEVERITY_WARNING ::strata::logging::Severity::kWarning
#define STRATA_LOG_SEVERITY_ERROR ::strata::logging::Severity::kError
#define STRATA_LOG(severity)                                           \
  ::strata::logging::LogLine(STRATA_LOG_SEVERITY_##severity, __FILE__, \
                             __LINE__)                                 \
      .stream()
