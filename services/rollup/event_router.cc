#include "services/rollup/event_router.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "libs/hash/stable_hash.h"
#include "libs/eventlog/replay_progress.h"
#include "libs/logging/log.h"
#include "libs/period/period.h"
#include "libs/status/status_macros.h"
#include "libs/streams/kpi_event_identity.h"
#include "libs/streams/timestamps.h"
#include "libs/streams/topics.h"
#include "strata/v1/rollup_internal.pb.h"

namespace strata::rollup {
namespace {

// Routed records are keyed by where they were read; placed explicitly.
eventlog::AppendRecord Routed(const eventlog::LogRecord& source,
                              int32_t partition, v1::RoutedRecord routed) {
  routed.set_source_partition(source.topic_partition.partition);
  routed.set_source_offset(source.offset);
  routed.set_source_append_time_ms(source.timestamp_ms);
  return {absl::StrCat(source.topic_partition.partition, "@", source.offset),
          routed.SerializeAsString(), partition};
}

}  // namespace

EventRouter::EventRouter(const EventRouterOptions& options,
                         eventlog::EventLog& log, RouteStore& store)
    : options_(options),
      log_(log),
      store_(store),
      loop_("rollup route", health_, consumer_, options_.poll_batch,
            options_.poll_timeout,
            {.publish_outbox = [this] { return PublishOutbox(); },
             .process = [this](const auto& records) {
               stats_.records_behind = consumer_->RecordsBehind();
               return RouteAndPublish(records);
             },
             .rewind = [this] { return Rewind(); }}) {}

EventRouter::~EventRouter() {
  Stop();
  Leave(consumer_);  // Hands the partitions over.
}

absl::Status EventRouter::Start() {
  ASSIGN_OR_RETURN(fold_partitions_, log_.PartitionCount(kRollupChangesTopic));
  ASSIGN_OR_RETURN(const int32_t partitions,
                   log_.PartitionCount(kKpiEventsTopic));
  RETURN_IF_ERROR(PublishOutbox());
  std::vector<eventlog::Position> positions;
  for (int32_t p = 0; p < partitions; ++p) {
    ASSIGN_OR_RETURN(eventlog::Position position,
                     store_.Position({kKpiEventsTopic, p}));
    positions.push_back(position);
  }
  // A log that lost or replaced records the store reflects would have
  // their successors skipped: DATA_LOSS, never a silent skip.
  absl::Status within = eventlog::ReplayProgress::Begin(log_, positions,
                                                        "rollup routes")
                            .status();
  if (!within.ok()) {
    health_.Set(within);
    return within;
  }
  ASSIGN_OR_RETURN(consumer_, log_.NewConsumer(options_.consumer_group));
  RETURN_IF_ERROR(consumer_->Subscribe({kKpiEventsTopic}, *this));
  loop_.Start("rollup-route");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<eventlog::Position>> EventRouter::TakeOver(
    const std::vector<eventlog::TopicPartition>& partitions) {
  ASSIGN_OR_RETURN(std::vector<eventlog::Position> positions,
                   StoredPositionsWithinLog(store_, log_, partitions,
                                            "rollup routes"));
  std::map<int32_t, int64_t> taken;
  std::string reading;
  for (const eventlog::Position& stored : positions) {
    ASSIGN_OR_RETURN(const int64_t group,
                     consumer_->Committed(stored.topic_partition));
    taken[stored.topic_partition.partition] = std::max<int64_t>(group, 0);
    absl::StrAppend(&reading, reading.empty() ? "" : ", ",
                    stored.topic_partition.partition, " from ", stored.offset,
                    " (routing from ", std::max(group, stored.offset), ")");
  }
  STRATA_LOG(INFO) << "rollup route: reading " << kKpiEventsTopic << " "
                   << reading;
  routed_before_.merge(taken);
  // A store ahead of the group (its last report failed) is reported by
  // the next round, once its outbox is published.
  report_stored_ = true;
  return positions;
}

void EventRouter::Revoked(
    const std::vector<eventlog::TopicPartition>& partitions) {
  // Routed records published late are harmless: fold partitions know a
  // re-sent event by its id, and closes and decisions count once.
  if (absl::Status published = PublishOutbox(); !published.ok()) {
    STRATA_LOG(WARNING) << "rollup route: handing partitions over with "
                           "routed records to publish later: " << published;
  } else {
    std::vector<eventlog::Position> handed;
    for (const eventlog::TopicPartition& tp : partitions) {
      absl::StatusOr<eventlog::Position> stored = store_.Position(tp);
      // Still learning ids below the group's position: left where it is.
      if (stored.ok() && stored->offset >= routed_before_[tp.partition]) {
        handed.push_back(*stored);
      }
    }
    reporter_.Report(handed);
  }
  Lost(partitions);
}

void EventRouter::Lost(const std::vector<eventlog::TopicPartition>& partitions) {
  reporter_.Forget(partitions);
  for (const eventlog::TopicPartition& tp : partitions) {
    routed_before_.erase(tp.partition);
  }
}

void EventRouter::Stop() { loop_.Stop(); }

absl::Status EventRouter::Rewind() {
  // Refused, an assignment left the group: joined again.
  ASSIGN_OR_RETURN(const bool rejoined, Rejoin(*consumer_, kKpiEventsTopic));
  if (rejoined) return absl::OkStatus();
  // What the store committed is in the outbox, published first.
  std::vector<eventlog::Position> positions;
  for (const auto& [partition, routed_before] : routed_before_) {
    ASSIGN_OR_RETURN(eventlog::Position position,
                     store_.Position({kKpiEventsTopic, partition}));
    positions.push_back(position);
  }
  return consumer_->Seek(positions);
}

absl::Status EventRouter::ReportStoredPositions() {
  std::vector<eventlog::Position> reported;
  for (const auto& [partition, routed_before] : routed_before_) {
    ASSIGN_OR_RETURN(eventlog::Position stored,
                     store_.Position({kKpiEventsTopic, partition}));
    if (stored.offset > routed_before) reported.push_back(stored);
  }
  reporter_.Report(reported);
  report_stored_ = false;
  return absl::OkStatus();
}

absl::Status EventRouter::PublishOutbox() {
  ASSIGN_OR_RETURN(std::vector<eventlog::AppendRecord> records,
                   store_.Outbox());
  if (records.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(log_.Append(kRollupChangesTopic, records));
  return store_.ClearOutbox();
}

absl::Status EventRouter::RouteAndPublish(
    const std::vector<eventlog::LogRecord>& records) {
  // The loop published the outbox before this poll.
  if (report_stored_) RETURN_IF_ERROR(ReportStoredPositions());
  if (records.empty()) {
    reporter_.RetryUnreported();
    return absl::OkStatus();
  }
  RouteChanges changes;
  ASSIGN_OR_RETURN(std::vector<eventlog::AppendRecord> routed,
                   Route(records, changes));
  RETURN_IF_ERROR(store_.Commit(changes, routed));
  RETURN_IF_ERROR(PublishOutbox());
  // Never below what a previous reader reported: its next reader would
  // route again what was routed.
  std::vector<eventlog::Position> reported;
  for (const eventlog::Position& position : changes.positions) {
    auto it = routed_before_.find(position.topic_partition.partition);
    if (it == routed_before_.end() || position.offset >= it->second) {
      reported.push_back(position);
    }
  }
  reporter_.Report(reported);
  return absl::OkStatus();
}


absl::StatusOr<std::vector<eventlog::AppendRecord>> EventRouter::Route(
    const std::vector<eventlog::LogRecord>& records, RouteChanges& changes) {
  std::vector<v1::EventEnvelope> envelopes(records.size());
  std::vector<absl::string_view> ids;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!envelopes[i].ParseFromString(records[i].value)) {
      STRATA_LOG(ERROR) << "rollup route: skipping malformed record "
                        << records[i].topic_partition.partition << "@"
                        << records[i].offset;
      ++stats_.records_malformed;
      envelopes[i].Clear();
      continue;
    }
    for (const v1::KpiEvent& event : envelopes[i].kpi_events().events()) {
      ids.push_back(event.event_id());
    }
  }
  // The first copy of each id: one batched look-up per poll.
  ASSIGN_OR_RETURN(std::vector<std::optional<FirstCopy>> stored,
                   store_.FirstCopies(ids));
  absl::flat_hash_map<absl::string_view, FirstCopy> first;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (stored[i]) first.emplace(ids[i], *stored[i]);
  }
  std::vector<eventlog::AppendRecord> out;
  std::map<int32_t, eventlog::Position> positions;
  for (size_t i = 0; i < records.size(); ++i) {
    const eventlog::LogRecord& record = records[i];
    const v1::EventEnvelope& envelope = envelopes[i];
    positions[record.topic_partition.partition] = {
        record.topic_partition, record.offset + 1, StableHash(record.value)};
    if (auto it = routed_before_.find(record.topic_partition.partition);
        it != routed_before_.end() && record.offset < it->second) {
      // Routed by a previous reader: only its ids are learnt.
      if (!envelope.has_kpi_events()) continue;
      for (const v1::KpiEvent& event : envelope.kpi_events().events()) {
        const FirstCopy copy{
            KpiEventFingerprint(event),
            eventlog::PartitionForKey(event.unit_id(), fold_partitions_)};
        if (first.emplace(event.event_id(), copy).second) {
          changes.ids.emplace_back(event.event_id(), copy);
        }
      }
      continue;
    }
    if (envelope.has_period_closing()) {
      // Every fold partition holds its late events on its own.
      for (int32_t p = 0; p < fold_partitions_; ++p) {
        v1::RoutedRecord routed;
        *routed.mutable_envelope() = envelope;
        out.push_back(Routed(record, p, std::move(routed)));
      }
      continue;
    }
    if (envelope.has_pending_decision()) {
      // To the partition its event went to, which holds it if anyone does;
      // one that names no event routed is ignored there (and counted).
      const std::string& id = envelope.pending_decision().event_id();
      ASSIGN_OR_RETURN(const int32_t partition, PartitionOfEvent(id, first));
      v1::RoutedRecord routed;
      *routed.mutable_envelope() = envelope;
      out.push_back(Routed(record, partition, std::move(routed)));
      continue;
    }
    if (!envelope.has_kpi_events()) continue;
    std::map<int32_t, v1::EventEnvelope> by_partition;
    for (const v1::KpiEvent& event : envelope.kpi_events().events()) {
      const FirstCopy copy{
          KpiEventFingerprint(event),
          eventlog::PartitionForKey(event.unit_id(), fold_partitions_)};
      auto [it, is_first] = first.emplace(event.event_id(), copy);
      if (!is_first) {
        if (it->second.fingerprint == copy.fingerprint) {
          ++stats_.events_duplicate;
        } else {
          ++stats_.events_conflicting;
          STRATA_LOG(ERROR) << "rollup route: event id '" << event.event_id()
                            << "' reused with a different payload at "
                            << record.topic_partition.partition << "@"
                            << record.offset
                            << "; the first event with that id stands";
        }
        continue;
      }
      changes.ids.emplace_back(event.event_id(), copy);
      v1::EventEnvelope& routed = by_partition[copy.fold_partition];
      if (!routed.has_kpi_events()) {
        routed.set_event_id(envelope.event_id());
        *routed.mutable_producer() = envelope.producer();
        *routed.mutable_append_time() = envelope.append_time();
      }
      *routed.mutable_kpi_events()->add_events() = event;
      ++stats_.events_routed;
    }
    for (auto& [partition, routed_envelope] : by_partition) {
      v1::RoutedRecord routed;
      *routed.mutable_envelope() = std::move(routed_envelope);
      out.push_back(Routed(record, partition, std::move(routed)));
    }
  }
  for (const auto& [partition, position] : positions) {
    changes.positions.push_back(position);
  }
  return out;
}

absl::StatusOr<int32_t> EventRouter::PartitionOfEvent(
    const std::string& id,
    const absl::flat_hash_map<absl::string_view, FirstCopy>& first) {
  if (auto it = first.find(id); it != first.end()) {
    return it->second.fold_partition;
  }
  ASSIGN_OR_RETURN(std::vector<std::optional<FirstCopy>> stored,
                   store_.FirstCopies({id}));
  if (stored[0]) return stored[0]->fold_partition;
  return eventlog::PartitionForKey(id, fold_partitions_);
}

}  // namespace strata::rollup
