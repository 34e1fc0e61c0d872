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
  // Read every record at open: checks each block's checksum and that no
  // partition has a hole. Costs a read of the whole log at start.
  bool verify_on_open = true;
};

// Opens the log at options.path, or creates it in a missing or empty
// directory. DATA_LOSS (naming what) for a database that does not open
// cleanly, fails verification, or ends before the END_OFFSETS mark it
// kept (see end_offsets_mark.h): never an empty or shortened log in place
// of the one that was there.

absl::StatusOr<std::unique_ptr<EventLog>> OpenRocksDbEventLog(
    const RocksDbEventLogOptions& options);

}  // namespace strata::eventlog
