#include "tests/harness/alertmanager_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "libs/http/http_client.h"

namespace strata::testing {
namespace {

// A port nobody listens on now. Alertmanager takes no port 0 and reports
// none, so a free one is picked; another process could take it first, and
// Start() then fails loudly rather than talk to it.
absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool ok =
      bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) return absl::InternalError("cannot bind a loopback port");
  return ntohs(address.sin_port);
}

}  // namespace

absl::Status AlertmanagerProcess::Start() {
  if (!std::filesystem::exists(kAlertmanagerBinary)) {
    return absl::FailedPreconditionError(
        absl::StrCat(kAlertmanagerBinary,
                     " is missing: scripts/install-deps installs Debian's "
                     "prometheus-alertmanager"));
  }
  std::filesystem::create_directories(dir_);
  const std::string config = dir_ + "/alertmanager.yml";
  std::ofstream(config) << "route:\n  receiver: nobody\n"
                           "receivers:\n  - name: nobody\n";
  if (port_ == 0) {
    absl::StatusOr<int> port = FreeLoopbackPort();
    if (!port.ok()) return port.status();
    port_ = *port;
  }
  process_ = std::make_unique<ChildProcess>(
      kAlertmanagerBinary,
      std::vector<std::string>{
          "--config.file=" + config, "--storage.path=" + dir_ + "/data",
          absl::StrCat("--web.listen-address=127.0.0.1:", port_),
          // No peers: a cluster port would be one more to collide on.
          "--cluster.listen-address="});
  absl::Status started = process_->Start(dir_ + "/alertmanager.log");
  if (!started.ok()) return started;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    absl::StatusOr<HttpResponse> ready =
        HttpGet(url() + "/-/ready", absl::Seconds(2));
    if (ready.ok() && ready->status_code == 200) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("alertmanager not ready:\n" + Log());
}

void AlertmanagerProcess::Stop() {
  if (process_) process_->Stop();
}

std::string AlertmanagerProcess::url() const {
  return absl::StrCat("http://127.0.0.1:", port_);
}

std::string AlertmanagerProcess::Log() const {
  return process_ ? process_->ReadLog() : "";
}

absl::StatusOr<std::vector<alerts::alertmanager::GettableAlert>>
AlertmanagerProcess::ActiveAlerts() const {
  absl::StatusOr<HttpResponse> response =
      HttpGet(url() + "/api/v2/alerts", absl::Seconds(5));
  if (!response.ok()) return response.status();
  if (response->status_code != 200) {
    return absl::InternalError(absl::StrCat("HTTP ", response->status_code,
                                            ": ", response->body));
  }
  alerts::alertmanager::GettableAlerts parsed;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(
      absl::StrCat("{\"alerts\":", response->body, "}"), &parsed, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot read ", response->body,
                                            ": ", status.ToString()));
  }
  return std::vector<alerts::alertmanager::GettableAlert>(
      parsed.alerts().begin(), parsed.alerts().end());
}

}  // namespace strata::testing
