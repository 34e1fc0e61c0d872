#pragma once

// Starts a real binary for cross-service tests and stops it again. Output
// goes to a log file that a failing test prints.
//
//   ChildProcess server(binary, {"serve", "--listen=127.0.0.1:0",
//                                "--port_file=" + port_file});
//   ASSERT_OK(server.Start(log_path));
//   ASSERT_OK_AND_ASSIGN(int port, WaitForPortFile(port_file,
//   absl::Seconds(30)));

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace strata::testing {

class ChildProcess {
 public:
  ChildProcess(std::string binary, std::vector<std::string> args)
      : binary_(std::move(binary)), args_(std::move(args)) {}
  ~ChildProcess() { Kill(); }

  absl::Status Start(const std::string& log_path);
  // SIGTERM, then waits up to `grace` before SIGKILL. Returns the exit code
  // (or 128 + signal).
  int Stop(absl::Duration grace = absl::Seconds(10));
  // SIGKILL: a crash, with no chance to flush anything.
  void Kill();
  bool running() const { return pid_ > 0; }
  int pid() const { return pid_; }
  // The exit code (or 128 + signal) when the child ended by itself since it
  // was started, without waiting; nullopt while it runs (or was never
  // started). A harness that kills children calls this first, so that a
  // crash of their own is not mistaken for the kill.
  std::optional<int> ExitedByItself();
  const std::string& log_path() const { return log_path_; }
  std::string ReadLog() const;

 private:
  int Wait(absl::Duration timeout);

  std::string binary_;
  std::vector<std::string> args_;
  std::string log_path_;
  int pid_ = -1;
};

// Polls until `path` holds a port number (written by --port_file).
absl::StatusOr<int> WaitForPortFile(const std::string& path,
                                    absl::Duration timeout);

// Reads a whole small file written by another process, polling until it is
// non-empty.
absl::StatusOr<std::string> WaitForFile(const std::string& path,
                                        absl::Duration timeout);

}  // namespace strata::testing
