#include "libs/eventlog/replay_progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/hash/stable_hash.h"
#include "libs/status/status_macros.h"

namespace strata::eventlog {

namespace {

// A broker down or a partition's leader moving keeps a record out of reach
// for seconds: a service starting then reads again, this long, rather than
// stay NOT_SERVING until restarted.
constexpr absl::Duration kReadPatience = absl::Minutes(1);

// DATA_LOSS when the record before a stored position is not the one the
// state saw: the log was replaced under it (an older copy restored, then
// appended to past the position, which the end check alone misses).
absl::Status CheckPreviousRecords(EventLog& log,
                                  const std::vector<Position>& stored,
                                  absl::string_view state_name) {
  std::unique_ptr<LogConsumer> reader;
  for (const Position& p : stored) {
    if (p.offset == 0 || p.previous_record_hash == 0) continue;
    if (reader == nullptr) {
      ASSIGN_OR_RETURN(reader, log.NewConsumer("strata-verify-positions"));
    }
    RETURN_IF_ERROR(reader->Assign({{p.topic_partition, p.offset - 1}}));
    std::vector<LogRecord> records;
    absl::Status unread;
    for (const absl::Time deadline = absl::Now() + kReadPatience;;) {
      absl::StatusOr<std::vector<LogRecord>> polled =
          reader->Poll(1, absl::Seconds(5));
      if (polled.ok() && !polled->empty()) {
        records = *std::move(polled);
        break;
      }
      if (!polled.ok() && !absl::IsUnavailable(polled.status())) {
        return polled.status();
      }
      if (!polled.ok()) unread = polled.status();
      if (absl::Now() >= deadline) {
        return absl::UnavailableError(absl::StrCat(
            "cannot read ", p.topic_partition.topic, "/",
            p.topic_partition.partition, "@", p.offset - 1,
            " to check it is the record ", state_name, " saw",
            unread.ok() ? "" : absl::StrCat(" (", unread.message(), ")")));
      }
      if (!polled.ok()) absl::SleepFor(absl::Milliseconds(200));
    }
    if (StableHash(records[0].value) != p.previous_record_hash) {
      return absl::DataLossError(absl::StrCat(
          state_name, " does not match the log: the record at ",
          p.topic_partition.topic, "/", p.topic_partition.partition, "@",
          p.offset - 1, " is not the one it was built from (the log was "
          "replaced, e.g. an older copy restored and appended to). Refusing "
          "to serve; see the README, 'Damage and recovery'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplayProgress>> ReplayProgress::Begin(
    EventLog& log, const std::vector<Position>& stored,
    absl::string_view state_name) {
  absl::flat_hash_map<TopicPartition, Partition> partitions;
  for (const Position& p : stored) {
    ASSIGN_OR_RETURN(int64_t end, log.EndOffset(p.topic_partition));
    if (p.offset > end) {
      return absl::DataLossError(absl::StrCat(
          state_name, " reflects ", p.topic_partition.topic, "/",
          p.topic_partition.partition, " up to offset ", p.offset,
          " but the log ends at ", end, ": ", p.offset - end,
          " records it was built from are gone (a restored or truncated log, "
          "or a power loss with fsync off), and new records would be "
          "skipped. Refusing to serve; see the README, 'Damage and "
          "recovery'"));
    }
    ASSIGN_OR_RETURN(int64_t start, log.StartOffset(p.topic_partition));
    if (p.offset < start) {
      return absl::DataLossError(absl::StrCat(
          state_name, " stands at ", p.topic_partition.topic, "/",
          p.topic_partition.partition, " offset ", p.offset,
          " but the log now starts at ", start, ": ", start - p.offset,
          " records it never applied were removed (retention or "
          "compaction), so it cannot be brought up to date from this log. "
          "Refusing to serve; see the README, 'Damage and recovery'"));
    }
    partitions[p.topic_partition] = {p.offset, end, p.offset};
  }
  RETURN_IF_ERROR(CheckPreviousRecords(log, stored, state_name));
  return std::unique_ptr<ReplayProgress>(
      new ReplayProgress(std::string(state_name), std::move(partitions)));
}

ReplayProgress::ReplayProgress(
    std::string state_name,
    absl::flat_hash_map<TopicPartition, Partition> partitions)
    : state_name_(std::move(state_name)), partitions_(std::move(partitions)) {
  for (const auto& [tp, p] : partitions_) total_ += p.target - p.start;
}

void ReplayProgress::Advance(const TopicPartition& tp, int64_t next_offset) {
  auto it = partitions_.find(tp);
  if (it == partitions_.end()) return;
  Partition& p = it->second;
  const int64_t reached = std::clamp(next_offset, p.start, p.target);
  replayed_ += reached - p.reached;
  p.reached = reached;
}

absl::Status ReplayProgress::Status() const {
  const int64_t replayed = replayed_.load();
  if (replayed >= total_) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat(state_name_, ": catching up with the log, ", replayed,
                   " of ", total_, " records replayed"));
}

}  // namespace strata::eventlog
