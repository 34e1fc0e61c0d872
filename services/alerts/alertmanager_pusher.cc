#include "services/alerts/alertmanager_pusher.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

}  // namespace

AlertmanagerPusher::AlertmanagerPusher(AlertmanagerOptions options,
                                       AlertStore& store, AlertHub& hub,
                                       DefinitionsSource definitions,
                                       std::string cursor_path)
    : options_(std::move(options)),
      store_(store),
      hub_(hub),
      definitions_(std::move(definitions)),
      cursor_path_(std::move(cursor_path)),
      endpoint_(absl::StrCat(absl::StripSuffix(options_.url, "/"),
                             "/api/v2/alerts")) {}

absl::Status AlertmanagerPusher::Validate(const AlertmanagerOptions& options) {
  if (!absl::StartsWith(options.url, "http://") &&
      !absl::StartsWith(options.url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("alertmanager_url: '", options.url,
                     "' is not an http:// or https:// URL"));
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
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

AlertmanagerStats AlertmanagerPusher::stats() const {
  return {firing_count_.load(), unsent_count_.load(), pushes_.load(),
          failures_.load()};
}

void AlertmanagerPusher::OnAlert(const v1::Alert&) {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void AlertmanagerPusher::Run() {
  absl::Duration retry = kFirstRetry;
  absl::Time next_attempt = absl::InfinitePast();
  bool resumed = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      const absl::Time wake = std::min(
          {absl::Now() + kPollInterval, next_resend_, next_attempt});
      auto ready = [this] {
        mu_.AssertHeld();
        return woken_ || stopping_;
      };
      mu_.AwaitWithDeadline(absl::Condition(&ready), wake);
      if (stopping_) return;
      woken_ = false;
    }
    absl::Status read = resumed ? ReadFeed() : Resume();
    if (!read.ok()) {
      STRATA_LOG(WARNING) << "alertmanager: cannot read the alert feed: "
                          << read;
      continue;
    }
    resumed = true;
    const absl::Time now = absl::Now();
    if (now >= next_resend_) {
      for (const auto& [id, alert] : firing_) unsent_.insert_or_assign(id, alert);
    }
    unsent_count_ = static_cast<int64_t>(unsent_.size());
    if (unsent_.empty() || now < next_attempt) {
      if (unsent_.empty()) SaveCursor();
      continue;
    }
    const bool resending = now >= next_resend_;
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
      if (resending) next_resend_ = now + options_.resend_interval;
      SaveCursor();
    } else {
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
  // Read the feed's end before the alerts, so that no change falls between.
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
    if (alert.state() != v1::ALERT_STATE_RESOLVED && Pushable(alert)) {
      firing_[alert.alert_id()] = alert;
    }
  }
  firing_count_ = static_cast<int64_t>(firing_.size());
  next_resend_ = absl::InfinitePast();  // Send every one now.
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
  if (alert.state() == v1::ALERT_STATE_RESOLVED) {
    // Sent unless Alertmanager cannot have heard of it: raised and resolved
    // before this pusher ever ran.
    if (firing_.erase(id) > 0 || resumed_from_cursor_) {
      unsent_.insert_or_assign(id, alert);
    }
    return;
  }
  auto it = firing_.find(id);
  // The listing at start may be newer than the feed's first changes.
  if (it != firing_.end() && it->second.version() > alert.version()) return;
  firing_.insert_or_assign(id, alert);
  unsent_.insert_or_assign(id, alert);
}

absl::Status AlertmanagerPusher::PushUnsent() {
  const std::shared_ptr<const Definitions> definitions = definitions_();
  const absl::Time now = absl::Now();
  const absl::Duration firing_for = options_.resend_interval * kFiringIntervals;
  google::protobuf::util::JsonPrintOptions json_options;
  while (!unsent_.empty()) {
    std::string body = "[";
    std::vector<std::string> ids;
    for (const auto& [id, alert] : unsent_) {
      if (ids.size() == options_.batch_size) break;
      std::string json;
      const auto printed = google::protobuf::util::MessageToJsonString(
          ToPostableAlert(alert, *definitions, now, firing_for), &json,
          json_options);
      if (!printed.ok()) {
        return absl::InternalError(
            absl::StrCat("alert ", id, ": ", printed.ToString()));
      }
      if (!ids.empty()) body.push_back(',');
      body += json;
      ids.push_back(id);
    }
    body.push_back(']');
    absl::StatusOr<HttpResponse> response =
        HttpPost(endpoint_, body, "application/json", options_.timeout);
    if (!response.ok()) {
      ++failures_;
      return response.status();
    }
    if (response->status_code != 200) {
      ++failures_;
      return absl::UnavailableError(
          absl::StrCat(endpoint_, " answered HTTP ", response->status_code,
                       ": ", response->body.substr(0, 500)));
    }
    ++pushes_;
    for (const std::string& id : ids) unsent_.erase(id);
  }
  return absl::OkStatus();
}

void AlertmanagerPusher::SaveCursor() {
  if (cursor_ == saved_cursor_) return;
  // Written aside and renamed, so a crash leaves the old cursor or the new.
  const std::string temporary = cursor_path_ + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << store_.feed_id() << " " << cursor_ << "\n";
    if (!out.flush()) {
      STRATA_LOG(WARNING) << "alertmanager: cannot write " << temporary;
      return;
    }
  }
  if (std::rename(temporary.c_str(), cursor_path_.c_str()) != 0) {
    STRATA_LOG(WARNING) << "alertmanager: cannot rename " << temporary;
    return;
  }
  saved_cursor_ = cursor_;
}

}  // namespace strata::alerts
