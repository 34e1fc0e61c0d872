#pragma once

// Stage A (route) of a scaled-out rollup (services/rollup/SCALE_OUT.md):
// reads strata.kpi-events and passes each KPI event to the fold partition
// of its unit on strata.rollup-changes, so that every event of a unit
// reaches one partition in log order.
//
// The first copy of an event id is the fact: an identical repeat, or a
// different payload under a known id (counted and logged), stays behind.
// A is the only stage that sees every copy of an id (its input is keyed by
// id); a fold partition sees only its units' events. Closes go to every
// fold partition, in order with the events of their source partition; a
// decision on a held event goes to the fold partition of its event.
//
// Each poll's routed records are committed in the RouteStore with the ids
// and positions they reflect, then published, so a crash re-sends
// at most what was published already (fold partitions recognise a re-sent
// event by its id) and never loses a routed record.
//
// Instances share the partitions of strata.kpi-events as members of one
// consumer group. An id lies in one partition, so each instance's store
// holds the ids of the partitions it read. A partition assigned is read
// from where the local store stands (its start, for a store that never
// read it); up to the group's position, which its previous reader had
// routed and published, it only learns the ids, sending nothing again.

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/eventlog/event_log.h"
#include "libs/status/health_report.h"
#include "services/rollup/group_member.h"
#include "services/rollup/position_reporter.h"
#include "services/rollup/stage_loop.h"
#include "libs/streams/topics.h"
#include "services/rollup/route_store.h"
#include "strata/v1/events.pb.h"

namespace strata::rollup {

struct EventRouterOptions {
  // Records taken from the log per poll, routed and committed together.
  size_t poll_batch = 1024;
  // Longest wait for records before checking for Stop().
  absl::Duration poll_timeout = absl::Milliseconds(50);
  // Consumer group reporting the router's positions (lag, and ingest's
  // back-pressure); positions of record are those in the store.
  std::string consumer_group = kRollupRouteConsumerGroup;
};

// Counters, readable from any thread.
struct EventRouterStats {
  std::atomic<int64_t> events_routed{0};
  std::atomic<int64_t> events_duplicate{0};    // Same id, same payload.
  std::atomic<int64_t> events_conflicting{0};  // Same id, other payload.
  std::atomic<int64_t> records_malformed{0};
  // Records of the partitions read past the last poll.
  std::atomic<int64_t> records_behind{0};
};

class EventRouter : private GroupMember {
 public:
  EventRouter(const EventRouterOptions& options, eventlog::EventLog& log,
              RouteStore& store);
  ~EventRouter();

  // Publishes what a crash left in the outbox, then routes from the stored
  // positions on a thread of its own.
  absl::Status Start();
  void Stop();

  // OK while routing; UNAVAILABLE while the log or store keeps failing
  // (retried), DATA_LOSS when the store cannot be read back.
  absl::Status Health() const { return health_.Get(); }
  const EventRouterStats& stats() const { return stats_; }

 private:
  // GroupMember: on the loop's thread, from inside Poll.
  absl::StatusOr<std::vector<eventlog::Position>> TakeOver(
      const std::vector<eventlog::TopicPartition>& partitions) override;
  void Revoked(const std::vector<eventlog::TopicPartition>& partitions) override;
  void Lost(const std::vector<eventlog::TopicPartition>& partitions) override;

  // Routes one poll's records, commits them and publishes them.
  absl::Status RouteAndPublish(const std::vector<eventlog::LogRecord>& records);
  // The records `records` route to, and the state they leave.
  absl::StatusOr<std::vector<eventlog::AppendRecord>> Route(
      const std::vector<eventlog::LogRecord>& records, RouteChanges& changes);
  // Has the consumer read again from the stored positions.
  absl::Status Rewind();
  // Reports the stored positions of the partitions read that are ahead of
  // the group's (this instance routed and published further).
  absl::Status ReportStoredPositions();
  bool report_stored_ = false;  // The loop's thread only.
  // Appends the routed records committed in the outbox, then clears it.
  absl::Status PublishOutbox();
  // The fold partition the event `id` was routed to (`first`: this poll's
  // first copies), or where a decision on an id never routed is ignored.
  absl::StatusOr<int32_t> PartitionOfEvent(
      const std::string& id,
      const absl::flat_hash_map<absl::string_view, FirstCopy>& first);

  const EventRouterOptions options_;
  eventlog::EventLog& log_;
  RouteStore& store_;
  std::unique_ptr<eventlog::LogConsumer> consumer_;
  PositionReporter reporter_{"rollup route", consumer_};
  // The loop's thread only: per partition read, the offset below which
  // records were routed by a previous reader (the group's position when
  // assigned).
  std::map<int32_t, int64_t> routed_before_;
  int32_t fold_partitions_ = 0;
  HealthReport health_{absl::UnavailableError("rollup route: starting")};
  EventRouterStats stats_;
  StageLoop loop_;
};

}  // namespace strata::rollup
