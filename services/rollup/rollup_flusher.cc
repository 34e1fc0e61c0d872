#include "services/rollup/rollup_flusher.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"
#include "services/rollup/rollup_record.h"

namespace strata::rollup {
namespace {

template <typename State>
void SortByKey(std::vector<std::pair<std::string, State>>& entries) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
}

}  // namespace

RollupFlusher::RollupFlusher(eventlog::EventLog& log, RollupStore& store,
                             std::string topic,
                             std::atomic<int64_t>& committed_events,
                             std::atomic<int64_t>& flushes)
    : log_(log),
      store_(store),
      topic_(std::move(topic)),
      committed_events_(committed_events),
      flushes_(flushes) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rollup-flusher");
    Run();
  });
}

RollupFlusher::~RollupFlusher() {
  Stop();
  thread_.join();
}

void RollupFlusher::Submit(FlushBatch batch) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !pending_ || stop_; });
  batch_ = std::move(batch);
  pending_ = !stop_;
  cv_.notify_all();
}

std::vector<eventlog::Position> RollupFlusher::TakeDurablePositions() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(durable_, {});
}

bool RollupFlusher::Busy() {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_;
}

bool RollupFlusher::Drain(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                      [&] { return !pending_; });
}

bool RollupFlusher::DrainToCommitted(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                      [&] { return !pending_ || publish_failing_; });
}

void RollupFlusher::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

void RollupFlusher::Run() {
  // A crash between a commit and its publishing left records in the outbox:
  // they go first, before any later commit adds to it.
  for (absl::Duration backoff = absl::Milliseconds(100);;) {
    absl::Status left = PublishLeftOver();
    if (left.ok()) break;
    STRATA_LOG(WARNING) << "rollup: publishing the outbox, retrying: " << left;
    health_.Set(absl::UnavailableError(absl::StrCat(
        "rollup: publishing committed records failed, retrying: ",
        left.message())));
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, absl::ToChronoNanoseconds(backoff),
                     [&] { return stop_; })) {
      return;  // Published at the next start.
    }
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
  health_.Set(absl::OkStatus());
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return pending_ || stop_; });
      if (!pending_) return;
    }
    // batch_ is not touched by Submit while pending_ is set.
    committed_ = false;
    absl::Duration backoff = absl::Milliseconds(100);
    absl::Status status;
    while (!(status = Write(batch_)).ok()) {
      STRATA_LOG(WARNING) << "rollup: flush failed, retrying: " << status;
      health_.Set(absl::UnavailableError(absl::StrCat(
          "rollup: committing failed, retrying: ", status.message())));
      std::unique_lock<std::mutex> lock(mu_);
      if (committed_ && !publish_failing_) {
        publish_failing_ = true;
        cv_.notify_all();
      }
      if (cv_.wait_for(lock, absl::ToChronoNanoseconds(backoff),
                       [&] { return stop_; })) {
        STRATA_LOG(WARNING)
            << (committed_ ? "rollup: stopping before a committed batch is "
                             "published; the next start publishes it"
                           : "rollup: giving up a batch; the log replays it");
        break;
      }
      backoff = std::min(backoff * 2, absl::Seconds(5));
    }
    if (status.ok()) health_.Set(absl::OkStatus());
    std::lock_guard<std::mutex> lock(mu_);
    if (status.ok()) durable_ = batch_.changes.positions;
    pending_ = false;
    publish_failing_ = false;
    cv_.notify_all();
  }
}

FlushBatch PrepareFlushBatch(
    const Definitions& defs,
    const std::vector<std::pair<CellId, RollupCell>>& cells,
    const std::vector<std::pair<CellId, v1::RollupRecord>>& derived,
    const std::vector<std::pair<CellId, OwnState>>& own,
    std::vector<std::pair<std::string, RollupCell>> partials,
    absl::flat_hash_map<std::string, AppliedEvent> events, int64_t new_events,
    std::map<std::string, std::optional<int64_t>> own_events,
    std::vector<eventlog::Position> positions, absl::Time judged_at) {
  FlushBatch batch;
  StateChanges& changes = batch.changes;
  changes.cells.reserve(cells.size());
  batch.changelog.reserve(cells.size());
  for (const auto& [id, cell] : cells) {
    if (cell.version == 0) continue;  // Marked for a target, no event yet.
    std::string key = CellKeyFor(defs, id);
    batch.changelog.push_back(
        {key, MakeRollupRecord(defs, id, cell, judged_at).SerializeAsString()});
    changes.cells.emplace_back(std::move(key), cell);
  }
  for (const auto& [id, record] : derived) {
    batch.changelog.push_back({CellKeyFor(defs, id), record.SerializeAsString()});
  }
  for (const auto& [id, state] : own) {
    changes.own.emplace_back(CellKeyFor(defs, id), state);
  }
  changes.seen_events.assign(events.begin(), events.end());
  changes.own_events.assign(std::make_move_iterator(own_events.begin()),
                            std::make_move_iterator(own_events.end()));
  batch.new_events = new_events;
  changes.positions = std::move(positions);
  SortByKey(changes.seen_events);
  SortByKey(changes.cells);
  SortByKey(changes.own);
  changes.partials = std::move(partials);
  SortByKey(changes.partials);
  batch.events = std::move(events);
  return batch;
}

absl::Status RollupFlusher::Write(const FlushBatch& batch) {
  // Committed first, with its records in the store's outbox, then
  // published: consumers see only state that survives a crash. Published
  // first, a crash before the commit would have the replay fold the log's
  // partitions in another order and publish other figures under the same
  // versions (and lower versions after higher ones).
  if (!committed_) {
    RETURN_IF_ERROR(store_.Commit(batch.changes, batch.changelog));
    committed_ = true;
  }
  RETURN_IF_ERROR(PublishOutbox(batch.changelog));
  // Counted once durable and on the changelog: what waits for the count
  // finds the changelog complete too.
  committed_events_ += batch.new_events;
  ++flushes_;
  return absl::OkStatus();
}

absl::Status RollupFlusher::PublishOutbox(
    const std::vector<eventlog::AppendRecord>& records) {
  RETURN_IF_ERROR(log_.Append(topic_, records));
  return store_.ClearOutbox();
}

absl::Status RollupFlusher::PublishLeftOver() {
  ASSIGN_OR_RETURN(std::vector<eventlog::AppendRecord> left,
                   store_.Outbox());
  if (left.empty()) return absl::OkStatus();
  STRATA_LOG(INFO) << "rollup: publishing " << left.size()
                   << " changelog records committed before a restart";
  return PublishOutbox(left);
}

}  // namespace strata::rollup
