#pragma once

// Pushes alerts to a Prometheus Alertmanager (API v2, POST /api/v2/alerts)
// so that its e-mail, chat and paging routes carry them, and resolves them
// there when they are resolved here.
//
// It follows the alert feed (AlertStore::FeedAfter) on a thread of its
// own, woken by the hub at every change, and pushes only while the engine
// is ready (caught up with the log and trusted): a store being rebuilt
// replays history, which is not news. Each open or acknowledged alert,
// unless raised silenced, is sent when it changes and again every
// `resend_interval`, saying it fires until four intervals from then: as
// Prometheus does, so that Alertmanager lets alerts go by itself if Strata
// stops sending. A resolved alert is sent once with its end. An alert whose
// labels change (its severity as it turns red) is resolved there under the
// old ones. Failed pushes are retried with backoff, coalesced to each
// alert's latest version; a request Alertmanager refuses as bad is dropped,
// logged and counted.
//
// How far it has pushed is kept in a small file next to the store, with
// the feed's id, so that a restart sends what was resolved while it was
// down; a store rebuilt from the log (another feed) starts from what is
// open once it is ready.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/definitions/definitions.h"
#include "services/alerts/alert_hub.h"
#include "services/alerts/alert_store.h"
#include "services/alerts/alertmanager_api.pb.h"

namespace strata::alerts {

struct AlertmanagerOptions {
  // Base URL, e.g. "http://alertmanager:9093"; empty: no push.
  std::string url;
  absl::Duration resend_interval = absl::Minutes(1);
  absl::Duration timeout = absl::Seconds(5);
  // Alerts per request at most (halved while a request is too large).
  size_t batch_size = 500;
};

// What it has done so far, for health and status.
struct AlertmanagerStats {
  int64_t firing = 0;    // Open alerts it keeps sending.
  int64_t unsent = 0;    // Changes waiting for a push that succeeds.
  int64_t pushes = 0;    // Requests Alertmanager accepted.
  int64_t failures = 0;  // Requests that failed and are retried.
  int64_t rejected = 0;  // Alerts dropped: Alertmanager refused them.
  int64_t rounds = 0;    // Times it read the feed.
};

class AlertmanagerPusher : private AlertSubscriber {
 public:
  using DefinitionsSource =
      std::function<std::shared_ptr<const Definitions>()>;

  // `ready`: whether the engine's alerts can be pushed now. `cursor_path`:
  // the file that keeps how far it pushed.
  AlertmanagerPusher(AlertmanagerOptions options, AlertStore& store,
                     AlertHub& hub, DefinitionsSource definitions,
                     std::function<bool()> ready, std::string cursor_path);
  ~AlertmanagerPusher() override { Stop(); }

  // INVALID_ARGUMENT naming the flag: a URL that is not http(s), an
  // interval that is not positive.
  static absl::Status Validate(const AlertmanagerOptions& options);

  absl::Status Start();
  void Stop();

  AlertmanagerStats stats() const;

 private:
  void OnAlert(const v1::Alert& alert) override;
  void Run();
  // Where it resumes: the stored cursor when it belongs to this feed,
  // else every alert open now.
  absl::Status Resume();
  // Moves the feed's changes after the cursor into firing_ and unsent_.
  absl::Status ReadFeed();
  void Take(const v1::Alert& alert);
  // Sends every unsent alert; OK when all were accepted or refused for
  // good.
  absl::Status PushUnsent();
  void SaveCursor();

  const AlertmanagerOptions options_;
  AlertStore& store_;
  AlertHub& hub_;
  const DefinitionsSource definitions_;
  const std::function<bool()> ready_;
  const std::string cursor_path_;
  const std::string endpoint_;  // options_.url + "/api/v2/alerts".

  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  // The thread's own.
  bool resumed_ = false;
  int64_t cursor_ = 0;  // The feed is read through here.
  int64_t saved_cursor_ = -1;
  bool resumed_from_cursor_ = false;
  std::map<std::string, v1::Alert> firing_;  // By id.
  std::map<std::string, v1::Alert> unsent_;  // By id, latest version.
  // The labels each alert was last sent with, while it fires there.
  std::map<std::string, alertmanager::PostableAlert> sent_;
  absl::Time next_resend_ = absl::InfinitePast();
  size_t batch_size_;
  int64_t failures_in_a_row_ = 0;

  std::atomic<int64_t> firing_count_{0}, unsent_count_{0}, pushes_{0},
      failures_{0}, rejected_{0}, rounds_{0};
};

}  // namespace strata::alerts
