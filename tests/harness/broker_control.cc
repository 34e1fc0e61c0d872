#include "tests/harness/broker_control.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace strata::testing {

BrokerControl::BrokerControl(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
}

absl::Status BrokerControl::Send(const std::string& command,
                                 absl::Duration timeout) {
  const std::string name = absl::StrFormat("%06d", sent_++);
  const std::filesystem::path cmd = dir_ / (name + ".cmd");
  const std::filesystem::path done = dir_ / (name + ".done");
  {
    std::ofstream out(cmd.string() + ".tmp");
    out << command << "\n";
  }
  // Whole or not at all: the broker never reads half a command.
  std::filesystem::rename(cmd.string() + ".tmp", cmd);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(done);
    if (in) {
      std::stringstream answer;
      answer << in.rdbuf();
      std::string text(absl::StripAsciiWhitespace(answer.str()));
      if (text == "ok") return absl::OkStatus();
      return absl::InternalError(absl::StrCat("broker: ", command, ": ", text));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  // Not carried out later, behind the caller's back.
  std::error_code ignored;
  std::filesystem::remove(cmd, ignored);
  return absl::DeadlineExceededError(
      absl::StrCat("broker did not answer '", command, "' within ",
                   absl::FormatDuration(timeout)));
}

}  // namespace strata::testing
