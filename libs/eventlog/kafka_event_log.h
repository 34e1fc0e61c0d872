#pragma once

// The distributed log: Kafka through librdkafka. Appends use one idempotent
// producer (acks=all, so broker-side retries never duplicate a record);
// consumers read assigned partitions, or share them as members of a group
// (cooperative-sticky assignor), and store positions with their group's
// coordinator. Topics must exist; operators create them (deploy/k8s).

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/eventlog/event_log.h"

namespace strata::eventlog {

struct KafkaEventLogOptions {
  // Comma-separated host:port list. Required.
  std::string brokers;
  // client.id reported to the brokers.
  std::string client_id = "strata";
  // How long a producer waits to fill a batch; trades latency for throughput.
  int linger_ms = 5;
  // How long a broker holds an empty fetch; bounds tailing latency.
  int fetch_wait_max_ms = 50;
  // How long an append may take before it fails (message.timeout.ms):
  // bounds how long a caller waits while the cluster is unreachable.
  absl::Duration delivery_timeout = absl::Seconds(30);
  // How long a group member may go unheard before its partitions go to the
  // others (session.timeout.ms). A member joining a stable group waits
  // about this long for the group to rebalance.
  absl::Duration group_session_timeout = absl::Seconds(45);
  // How often a group member sends the positions it committed since
  // (auto.commit.interval.ms): how far the group's committed offsets, and
  // so the lag others read, may trail a member's reports.
  absl::Duration group_commit_interval = absl::Seconds(1);
  // Budget for metadata and offset look-ups.
  absl::Duration request_timeout = absl::Seconds(10);
  // Extra librdkafka properties for producer and consumers (e.g. TLS/SASL).
  std::map<std::string, std::string> extra_config;
};

absl::StatusOr<std::unique_ptr<EventLog>> OpenKafkaEventLog(
    const KafkaEventLogOptions& options);

}  // namespace strata::eventlog
