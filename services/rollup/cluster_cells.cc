#include "services/rollup/cluster_cells.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"
#include "libs/streams/period_proto.h"
#include "libs/streams/timestamps.h"
#include "libs/streams/topics.h"
#include "services/rollup/peer_read_service.h"
#include "services/rollup/rollup_record.h"

namespace strata::rollup {
namespace {

// Cells per call: well within gRPC's 4 MB message limit, and the peer's.
constexpr size_t kCellsPerCall = 1'000;
static_assert(kCellsPerCall <= kMaxPeerReadKeys);

v1::RollupKey KeyOf(const Definitions& defs, const CellId& id) {
  v1::RollupKey key;
  key.set_kpi_id(defs.kpi(id.kpi).definition.kpi_id());
  key.set_unit_id(defs.unit(id.unit).definition.unit_id());
  *key.mutable_period() = PeriodToProto(id.period);
  return key;
}

}  // namespace

ClusterCells::ClusterCells(const CellCombiner& local,
                           const MemberDirectory& members, PeerStubs& stubs,
                           int32_t partitions, absl::Duration peer_timeout)
    : local_(local),
      members_(members),
      partitions_(partitions),
      peer_timeout_(peer_timeout),
      stubs_(stubs) {}

absl::Status ClusterCells::Health() const {
  RETURN_IF_ERROR(local_.Health());
  return members_.Health();
}

int32_t ClusterCells::PartitionOf(const Definitions& defs,
                                  const CellId& id) const {
  return PartialsPartitionOf(defs.unit(id.unit).definition.unit_id(),
                             id.period, partitions_);
}

absl::StatusOr<std::optional<v1::RollupRecord>> ClusterCells::ReadHere(
    const Definitions& defs, const CellId& id, absl::Time judged_at) const {
  const int32_t partition = PartitionOf(defs, id);
  const std::optional<std::string> owner = members_.OwnerOf(partition);
  if (owner != members_.self_address()) {
    return absl::UnavailableError(absl::StrCat(
        "rollup: ", CellKeyFor(defs, id), " is merged by ",
        owner ? *owner : "no instance", " now (", kRollupPartialsTopic, "/",
        partition, " moved); retry"));
  }
  return local_.ReadRecord(defs, id, judged_at);
}

absl::StatusOr<std::optional<v1::RollupRecord>> ClusterCells::ReadRecord(
    const Definitions& defs, const CellId& id, absl::Time judged_at) const {
  ASSIGN_OR_RETURN(std::vector<std::optional<v1::RollupRecord>> records,
                   ReadRecords(defs, {id}, judged_at));
  return std::move(records[0]);
}

absl::StatusOr<std::vector<std::optional<v1::RollupRecord>>>
ClusterCells::ReadRecords(const Definitions& defs,
                          const std::vector<CellId>& ids,
                          absl::Time judged_at) const {
  const std::vector<int32_t> here = local_.OwnedPartitions();
  const std::string self = members_.self_address();
  std::vector<std::optional<v1::RollupRecord>> records(ids.size());
  std::vector<PeerRead> reads;
  std::vector<std::vector<size_t>> read_at;  // The ids of each read.
  std::map<std::string, size_t> open_read;   // By address: its last read.
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t partition = PartitionOf(defs, ids[i]);
    if (std::find(here.begin(), here.end(), partition) != here.end()) {
      ASSIGN_OR_RETURN(records[i], ReadHere(defs, ids[i], judged_at));
      continue;
    }
    std::optional<std::string> owner = members_.OwnerOf(partition);
    if (!owner || *owner == self) {
      return absl::UnavailableError(absl::StrCat(
          "rollup: no instance merges ", CellKeyFor(defs, ids[i]), " now (",
          kRollupPartialsTopic, "/", partition,
          " is between instances); retry"));
    }
    auto [it, added] = open_read.try_emplace(*owner, reads.size());
    if (added || read_at[it->second].size() == kCellsPerCall) {
      it->second = reads.size();
      PeerRead& read = reads.emplace_back();
      read_at.emplace_back();
      read.address = *owner;
      *read.request.mutable_judged_at() = ToTimestamp(judged_at);
    }
    read_at[it->second].push_back(i);
    *reads[it->second].request.add_keys() = KeyOf(defs, ids[i]);
  }
  SendAll(stubs_, reads, peer_timeout_,
          &v1::RollupPeerService::Stub::async_interface::ReadCells);
  for (size_t r = 0; r < reads.size(); ++r) {
    RETURN_IF_ERROR(Take(defs, ids, read_at[r], reads[r], records));
  }
  return records;
}

absl::Status ClusterCells::Take(
    const Definitions& defs, const std::vector<CellId>& ids,
    const std::vector<size_t>& at, PeerRead& read,
    std::vector<std::optional<v1::RollupRecord>>& records) const {
  const std::string asked = absl::StrCat(CellKeyFor(defs, ids[at[0]]),
                                         at.size() > 1 ? " and others" : "");
  if (!read.status.ok()) return PeerFailure(read.address, asked, read.status);
  auto wrong = [&](absl::string_view what) {
    return absl::InternalError(absl::StrCat("rollup: the instance at ",
                                            read.address, ", asked for ",
                                            asked, ", answered ", what));
  };
  if (read.response.cells_size() != static_cast<int>(at.size())) {
    return wrong(absl::StrCat(read.response.cells_size(), " cells for ",
                              at.size()));
  }
  for (size_t k = 0; k < at.size(); ++k) {
    v1::CellRead& cell = *read.response.mutable_cells(k);
    if (!cell.has_record()) continue;
    const v1::RollupKey& key = read.request.keys(k);
    const v1::RollupKey& got = cell.record().key();
    if (got.kpi_id() != key.kpi_id() || got.unit_id() != key.unit_id() ||
        got.period().kind() != key.period().kind() ||
        got.period().label() != key.period().label()) {
      return wrong(absl::StrCat(got.ShortDebugString(), " for ",
                                key.ShortDebugString()));
    }
    records[at[k]] = std::move(*cell.mutable_record());
  }
  return absl::OkStatus();
}

}  // namespace strata::rollup
