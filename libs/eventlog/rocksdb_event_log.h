#pragma once

// The embedded log: every topic's partitions kept in one RocksDB database in
// a local directory. One process opens it (RocksDB holds a lock); services
// that share it run in that process.

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/eventlog/event_log.h"

namespace strata::eventlog {

struct RocksDbEventLogOptions {
  // Directory of the database; created (with parents) when missing.
  std::string path;
  // Topic name -> partition count. Topics are created on open; a topic that
  // already exists keeps the partition count it was created with.
  std::map<std::string, int32_t> topics;
  // fsync the WAL on every append before returning. Off, a process crash
  // loses nothing, but a power loss may lose the last appends (as Kafka
  // without replication would). The servers turn it on (--log_fsync).
  bool sync = false;
};

absl::StatusOr<std::unique_ptr<EventLog>> OpenRocksDbEventLog(
    const RocksDbEventLogOptions& options);

}  // namespace strata::eventlog
