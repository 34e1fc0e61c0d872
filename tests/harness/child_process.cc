#include "tests/harness/child_process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace strata::testing {

absl::Status ChildProcess::Start(const std::string& log_path) {
  log_path_ = log_path;
  std::vector<char*> argv;
  argv.push_back(binary_.data());
  for (std::string& arg : args_) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log_fd < 0) return absl::InternalError(absl::StrCat("open ", log_path));
  // STRATA_CHILD_CORES: a crash that cannot print its stack (a thread
  // whose stack overflowed has none left for the handler) leaves a core
  // in <log>.core/, for gdb. The child runs there, so its binary is found
  // by an absolute path.
  std::string core_dir;
  if (std::getenv("STRATA_CHILD_CORES") != nullptr) {
    core_dir = log_path + ".core";
    std::error_code ec;
    std::filesystem::create_directories(core_dir, ec);
    binary_ = std::filesystem::absolute(binary_).string();
    argv[0] = binary_.data();
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    // Dies with the test, whatever happens to it (a ctest timeout kills the
    // test with SIGKILL). The signal comes when the thread that started
    // the child ends: start children from the test's main thread.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // The test died before prctl.
    if (!core_dir.empty()) {
      const rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
      if (setrlimit(RLIMIT_CORE, &unlimited) != 0 || chdir(core_dir.c_str()) != 0) {
        _exit(126);
      }
    }
    execv(binary_.c_str(), argv.data());
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;
  return absl::OkStatus();
}

int ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (absl::Now() >= deadline) return -1;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

std::optional<int> ChildProcess::ExitedByItself() {
  if (pid_ <= 0) return std::nullopt;
  const int code = Wait(absl::ZeroDuration());
  if (code < 0) return std::nullopt;
  return code;
}

int ChildProcess::Stop(absl::Duration grace) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const int code = Wait(grace);
  if (code >= 0) return code;
  Kill();
  return 128 + SIGKILL;
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  // Said aloud: a child that died by itself before the test killed it (a
  // crash, a sanitizer's abort) would otherwise pass unnoticed.
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    std::fprintf(stderr, "child %s (pid %d) had exited by itself: %s %d\n",
                 binary_.c_str(), pid_,
                 WIFEXITED(status) ? "exit code" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    pid_ = -1;
    return;
  }
  kill(pid_, SIGKILL);
  Wait(absl::Seconds(10));
}

std::string ChildProcess::ReadLog() const {
  std::ifstream in(log_path_);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::string> WaitForFile(const std::string& path,
                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text(absl::StripAsciiWhitespace(buffer.str()));
    if (!text.empty()) return text;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("no ", path, " in time"));
}

absl::StatusOr<int> WaitForPortFile(const std::string& path,
                                    absl::Duration timeout) {
  absl::StatusOr<std::string> text = WaitForFile(path, timeout);
  if (!text.ok()) return text.status();
  int port = 0;
  if (!absl::SimpleAtoi(*text, &port) || port <= 0) {
    return absl::InternalError(
        absl::StrCat("bad port file ", path, ": ", *text));
  }
  return port;
}

}  // namespace strata::testing
