#include "libs/logging/log.h"

#include <cstdio>
#include <cstring>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace strata::logging {

LogLine::LogLine(Severity severity, const char* file, int line) {
  const char* base = std::strrchr(file, '/');
  const char tag = severity == Severity::kInfo      ? 'I'
                   : severity == Severity::kWarning ? 'W'
                                                    : 'E';
  stream_ << tag
          << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ ", absl::Now(),
                              absl::UTCTimeZone())
          << (base ? base + 1 : file) << ":" << line << "] ";
}

LogLine::~LogLine() {
  stream_ << '\n';
  const std::string text = stream_.str();
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace strata::logging
