#pragma once

// RollupPeerService: how another instance of a scaled-out strata-rollup
// reads the cells this instance merges (ClusterCells asks it) and the
// closes and waiting events of the fold parts it folds (Closings asks). Answers
// only from its own cells, never passing a call on, so that a directory
// out of date costs a retry (UNAVAILABLE), never a figure read twice
// over or a loop.

#include "libs/definitions/definitions_follower.h"
#include "services/rollup/closings.h"
#include "services/rollup/cluster_cells.h"
#include "strata/v1/rollup_peer_service.grpc.pb.h"

namespace strata::rollup {

inline constexpr int kMaxPeerReadKeys = 10'000;

class PeerReadService final
    : public v1::RollupPeerService::WithRawCallbackMethod_ReadCells<
          v1::RollupPeerService::WithRawCallbackMethod_ListPendingHere<
              v1::RollupPeerService::Service>> {
 public:
  // Answers what `cells` merges here (ClusterCells::ReadHere) and what
  // the fold parts read here hold (Closings::Here).
  PeerReadService(const ClusterCells& cells, const Closings& closings,
                  DefinitionsFollower& definitions)
      : cells_(cells), closings_(closings), definitions_(definitions) {}

  grpc::ServerUnaryReactor* ReadCells(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListPendingHere(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

 private:
  absl::Status Read(const v1::ReadCellsRequest& request,
                    v1::ReadCellsResponse& response) const;

  const ClusterCells& cells_;
  const Closings& closings_;
  DefinitionsFollower& definitions_;
};

}  // namespace strata::rollup
