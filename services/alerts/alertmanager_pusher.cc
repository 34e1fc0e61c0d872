#include "services/alerts/alertmanager_pusher.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "libs/http/http_client.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "services/alerts/alertmanager_alert.h"

namespace strata::alerts {
namespace {

// How long Alertmanager keeps an alert firing without hearing of it again,
// in resend intervals.
constexpr int kFiringIntervals = 4;
// How often the feed is read when nothing wakes the pusher.
constexpr absl::Duration kPollInterval = absl::Seconds(1);
constexpr absl::Duration kFirstRetry = absl::Milliseconds(500);

bool Pushable(const v1::Alert& alert) { return alert.silence_id().empty(); }

bool Resolved(const v1::Alert& alert) {
  return alert.state() == v1::ALERT_STATE_RESOLVED;
}

// A refusal that sending the same again cannot cure.
bool Permanent(long http_status) {
  return http_status >= 400 && http_status < 500 && http_status != 408 &&
         http_status != 413 && http_status != 429;
}

// Writes `contents` to `path` through a file renamed into place and synced
// with its directory, so that a crash or power loss leaves the old
// contents or the new.
absl::Status WriteFileDurably(const std::string& path,
                              const std::string& contents) {
  const std::string temporary = path + ".tmp";
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", temporary));
  const bool written =
      write(fd, contents.data(), contents.size()) ==
          static_cast<ssize_t>(contents.size()) &&
      fsync(fd) == 0;
  close(fd);
  if (!written || std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  const std::string dir = path.substr(0, path.find_last_of('/') + 1);
  const int dir_fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return absl::OkStatus();
}

bool SameLabels(const google::protobuf::Map<std::string, std::string>& a,
                const google::protobuf::Map<std::string, std::string>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, value] : a) {
    auto it = b.find(name);
    if (it == b.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

AlertmanagerPusher::AlertmanagerPusher(AlertmanagerOptions options,
                                       AlertStore& store, AlertHub& hub,
                                       DefinitionsSource definitions,
                                       std::function<bool()> ready,
                                       std::string cursor_path)
    : options_(std::move(options)),
      store_(store),
      hub_(hub),
      definitions_(std::move(definitions)),
      ready_(std::move(ready)),
      cursor_path_(std::move(cursor_path)),
      endpoint_(absl::StrCat(absl::StripSuffix(options_.url, "/"),
                             "/api/v2/alerts")),
      batch_size_(std::max<size_t>(options_.batch_size, 1)) {}

absl::Status AlertmanagerPusher::Validate(const AlertmanagerOptions& options) {
  absl::string_view rest = options.url;
  const bool http = absl::ConsumePrefix(&rest, "http://") ||
                    absl::ConsumePrefix(&rest, "https://");
  // A host, and nothing a URL cannot hold unescaped.
  const absl::string_view host = rest.substr(0, rest.find('/'));
  if (!http || host.empty() || host.front() == ':' ||
      rest.find_first_of(" \t\r\n\"<>\\^`{|}") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("alertmanager_url: '", options.url,
                     "' is not an http:// or https:// URL with a host"));
  }
  if (options.resend_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "alertmanager_resend_interval: must be positive");
  }
  return absl::OkStatus();
}

absl::Status AlertmanagerPusher::Start() {
  RETURN_IF_ERROR(Validate(options_));
  hub_.Subscribe(this, "");
  thread_ = std::thread([this] { Run(); });
  STRATA_LOG(INFO) << "pushing alerts to the Alertmanager at " << endpoint_;
  return absl::OkStatus();
}

void AlertmanagerPusher::Stop() {
  if (!thread_.joinable()) return;
  hub_.Unsubscribe(this);
  stopping_ = true;
  {
    absl::MutexLock lock(&mu_);
    woken_ = true;
  }
  thread_.join();
}

AlertmanagerStats AlertmanagerPusher::stats() const {
  // The counts first: a push or refusal counted had its alerts taken out
  // of the unsent before, so the snapshot never shows them still waiting.
  AlertmanagerStats stats;
  stats.pushes = pushes_.load();
  stats.rejected = rejected_.load();
  stats.failures = failures_.load();
  stats.rounds = rounds_.load();
  stats.firing = firing_count_.load();
  stats.unsent = unsent_count_.load();
  return stats;
}

void AlertmanagerPusher::OnAlert(const v1::Alert&) {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void AlertmanagerPusher::Run() {
  absl::Duration retry = kFirstRetry;
  absl::Time next_attempt = absl::InfinitePast();
  while (!stopping_) {
    {
      absl::Time wake = absl::Now() + kPollInterval;
      if (resumed_) wake = std::min(wake, next_resend_);
      if (!unsent_.empty()) wake = std::min(wake, next_attempt);
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(&woken_), wake);
      woken_ = false;
    }
    if (stopping_ || !ready_()) continue;
    ++rounds_;
    absl::Status read = resumed_ ? ReadFeed() : Resume();
    if (!read.ok()) {
      STRATA_LOG(WARNING) << "alertmanager: cannot read the alert feed: "
                          << read;
      continue;
    }
    resumed_ = true;
    const absl::Time now = absl::Now();
    if (now >= next_resend_) {
      for (const auto& [id, alert] : firing_) unsent_.insert_or_assign(id, alert);
      next_resend_ = now + options_.resend_interval;
    }
    unsent_count_ = static_cast<int64_t>(unsent_.size());
    if (unsent_.empty()) {
      SaveCursor();
      continue;
    }
    if (now < next_attempt) continue;
    absl::Status pushed = PushUnsent();
    unsent_count_ = static_cast<int64_t>(unsent_.size());
    if (pushed.ok()) {
      if (failures_in_a_row_ > 0) {
        STRATA_LOG(INFO) << "alertmanager: pushing again after "
                         << failures_in_a_row_ << " failed attempts";
      }
      failures_in_a_row_ = 0;
      retry = kFirstRetry;
      next_attempt = absl::InfinitePast();
      SaveCursor();
    } else if (!stopping_) {
      // The first failure of a spell and then one in 20 are logged.
      if (failures_in_a_row_++ % 20 == 0) {
        STRATA_LOG(WARNING) << "alertmanager: push failed (" << unsent_.size()
                            << " alerts waiting; retrying): " << pushed;
      }
      next_attempt = now + retry;
      retry = std::min(retry * 2, options_.resend_interval);
    }
  }
}

absl::Status AlertmanagerPusher::Resume() {
  // The feed's end is read before the alerts, so no change falls between.
  const int64_t end = store_.last_sequence();
  ASSIGN_OR_RETURN(std::vector<v1::Alert> alerts, store_.ListAlerts());
  cursor_ = end;
  std::ifstream in(cursor_path_);
  std::string feed_id;
  int64_t sequence = 0;
  if (in >> feed_id >> sequence && feed_id == store_.feed_id() &&
      sequence <= end) {
    cursor_ = sequence;
    resumed_from_cursor_ = true;
  }
  for (const v1::Alert& alert : alerts) {
    if (!Resolved(alert) && Pushable(alert)) firing_[alert.alert_id()] = alert;
  }
  next_resend_ = absl::InfinitePast();  // Every one is sent now.
  return ReadFeed();
}

absl::Status AlertmanagerPusher::ReadFeed() {
  while (true) {
    ASSIGN_OR_RETURN(std::vector<v1::Alert> changes,
                     store_.FeedAfter(cursor_, options_.batch_size));
    if (changes.empty()) break;
    for (const v1::Alert& alert : changes) Take(alert);
    cursor_ = changes.back().sequence();
  }
  firing_count_ = static_cast<int64_t>(firing_.size());
  return absl::OkStatus();
}

void AlertmanagerPusher::Take(const v1::Alert& alert) {
  if (!Pushable(alert)) return;
  const std::string& id = alert.alert_id();
  auto it = firing_.find(id);
  // The listing at start may be newer than the feed's first changes.
  if (it != firing_.end() && it->second.version() > alert.version()) return;
  if (Resolved(alert)) {
    // Sent unless Alertmanager cannot have heard of it: raised and resolved
    // before this pusher ever ran.
    if (it != firing_.end() || resumed_from_cursor_) {
      unsent_.insert_or_assign(id, alert);
    }
    if (it != firing_.end()) firing_.erase(it);
    return;
  }
  firing_.insert_or_assign(id, alert);
  unsent_.insert_or_assign(id, alert);
}

absl::Status AlertmanagerPusher::PushUnsent() {
  const std::shared_ptr<const Definitions> definitions = definitions_();
  const absl::Duration firing_for = options_.resend_interval * kFiringIntervals;
  google::protobuf::util::JsonPrintOptions json_options;
  while (!unsent_.empty() && !stopping_) {
    const absl::Time now = absl::Now();
    std::vector<std::string> ids;
    // Aligned with ids; then the label sets they leave behind, resolved.
    std::vector<alertmanager::PostableAlert> postable;
    std::vector<alertmanager::PostableAlert> left_behind;
    for (const auto& [id, alert] : unsent_) {
      if (ids.size() == batch_size_) break;
      ids.push_back(id);
      postable.push_back(ToPostableAlert(alert, *definitions, now, firing_for));
      auto sent = sent_.find(id);
      if (sent != sent_.end() &&
          !SameLabels(sent->second.labels(), postable.back().labels())) {
        left_behind.push_back(sent->second);
        left_behind.back().set_ends_at(Rfc3339(now));
      }
    }
    std::string body = "[";
    postable.insert(postable.end(), left_behind.begin(), left_behind.end());
    for (const alertmanager::PostableAlert& alert : postable) {
      std::string json;
      const auto printed = google::protobuf::util::MessageToJsonString(
          alert, &json, json_options);
      if (!printed.ok()) {
        return absl::InternalError(absl::StrCat("alert as JSON: ",
                                                printed.ToString()));
      }
      if (body.size() > 1) body.push_back(',');
      body += json;
    }
    body.push_back(']');
    absl::StatusOr<HttpResponse> response =
        HttpPost(endpoint_, body, "application/json", options_.timeout);
    if (response.ok() && response->status_code == 413 && batch_size_ > 1) {
      batch_size_ = std::max<size_t>(batch_size_ / 2, 1);
      continue;  // Smaller requests, at once.
    }
    const bool refused = response.ok() && Permanent(response->status_code);
    if (refused) {
      STRATA_LOG(ERROR) << "alertmanager: " << endpoint_ << " refused "
                        << ids.size() << " alerts (dropped): HTTP "
                        << response->status_code << ": "
                        << response->body.substr(0, 500);
    } else if (!response.ok() || response->status_code != 200) {
      ++failures_;
      return response.ok() ? absl::UnavailableError(absl::StrCat(
                                 endpoint_, " answered HTTP ",
                                 response->status_code, ": ",
                                 response->body.substr(0, 500)))
                           : response.status();
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      const v1::Alert& alert = unsent_.at(ids[i]);
      if (Resolved(alert)) {
        sent_.erase(ids[i]);
      } else {
        sent_.insert_or_assign(ids[i], postable[i]);
      }
      unsent_.erase(ids[i]);
    }
    // Counted once they left the unsent, so that stats() never shows a
    // push or a refusal with its alerts still waiting.
    unsent_count_ = static_cast<int64_t>(unsent_.size());
    if (refused) {
      rejected_ += static_cast<int64_t>(ids.size());
    } else {
      ++pushes_;
    }
  }
  return absl::OkStatus();
}

void AlertmanagerPusher::SaveCursor() {
  if (cursor_ == saved_cursor_) return;
  absl::Status written = WriteFileDurably(
      cursor_path_, absl::StrCat(store_.feed_id(), " ", cursor_, "\n"));
  if (!written.ok()) {
    STRATA_LOG(WARNING) << "alertmanager: " << written;
    return;
  }
  saved_cursor_ = cursor_;
}

}  // namespace strata::alerts
