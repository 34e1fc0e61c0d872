#pragma once

// RollupStreamService: WatchRollups follows the changelog topic through the
// event log, so it serves the same stream in embedded and Kafka mode. Each
// stream reads with a consumer of its own on a thread of its own, bounded
// by kMaxWatchStreams; a slow client holds its stream back (at most
// kMaxQueuedRecords queued), never the engine.

#include <atomic>

#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "strata/v1/rollup_stream_service.grpc.pb.h"

namespace strata::rollup {

inline constexpr int kMaxWatchStreams = 64;
inline constexpr size_t kMaxQueuedRecords = 1'000;

class WatchService final
    : public v1::RollupStreamService::WithRawCallbackMethod_WatchRollups<
          v1::RollupStreamService::Service> {
 public:
  WatchService(eventlog::EventLog& log, DefinitionsFollower& definitions)
      : log_(log), definitions_(definitions) {}

  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchRollups(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;

 private:
  class Stream;

  // The offset each changelog partition is read from, as `request` asks.
  absl::StatusOr<std::vector<eventlog::Position>> StartPositions(
      const v1::WatchRollupsRequest& request);
  absl::Status CheckFilters(const v1::WatchRollupsRequest& request);

  eventlog::EventLog& log_;
  DefinitionsFollower& definitions_;
  std::atomic<int> streams_{0};
};

}  // namespace strata::rollup
