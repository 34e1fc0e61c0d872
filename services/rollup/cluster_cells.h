#pragma once

// What queries read in a scaled-out strata-rollup of several instances
// (SCALE_OUT.md, "Queries"): the cells this instance's stage C merges,
// read here, and the rest read from the instance that merges them
// (RollupPeerService), found in the MemberDirectory. A client may ask any
// instance for any cell.
//
// Each cell is read where it is merged, so a figure is never older than
// that instance's, and a cell whose partition is moving between instances
// answers UNAVAILABLE (retry), never the previous reader's figure.

#include <string>
#include <vector>

#include "services/rollup/cell_combiner.h"
#include "services/rollup/cell_source.h"
#include "services/rollup/member_directory.h"
#include "services/rollup/peer_calls.h"

namespace strata::rollup {

class ClusterCells final : public CellSource {
 public:
  // `partitions`: of strata.rollup-partials.
  ClusterCells(const CellCombiner& local, const MemberDirectory& members,
               PeerStubs& stubs, int32_t partitions,
               absl::Duration peer_timeout = absl::Seconds(10));

  // This instance's stage C and its directory; another instance's
  // failure shows in the reads sent there.
  absl::Status Health() const override;
  absl::Time Now() const override { return local_.Now(); }
  absl::StatusOr<std::optional<v1::RollupRecord>> ReadRecord(
      const Definitions& defs, const CellId& id,
      absl::Time judged_at) const override;
  absl::StatusOr<std::vector<std::optional<v1::RollupRecord>>> ReadRecords(
      const Definitions& defs, const std::vector<CellId>& ids,
      absl::Time judged_at) const override;

  // The cell as merged here: UNAVAILABLE unless this instance's stage C
  // reads its partition and the directory names no later claim of it (an
  // instance whose group session ended, not told yet, must not answer).
  absl::StatusOr<std::optional<v1::RollupRecord>> ReadHere(
      const Definitions& defs, const CellId& id, absl::Time judged_at) const;

 private:
  using PeerRead = PeerCall<v1::ReadCellsRequest, v1::ReadCellsResponse>;
  int32_t PartitionOf(const Definitions& defs, const CellId& id) const;
  // The records a read of the cells `at` answered, in `records`; an error
  // the query can stand behind otherwise.
  absl::Status Take(const Definitions& defs, const std::vector<CellId>& ids,
                    const std::vector<size_t>& at, PeerRead& read,
                    std::vector<std::optional<v1::RollupRecord>>& records) const;

  const CellCombiner& local_;
  const MemberDirectory& members_;
  const int32_t partitions_;
  const absl::Duration peer_timeout_;
  PeerStubs& stubs_;
};

}  // namespace strata::rollup
