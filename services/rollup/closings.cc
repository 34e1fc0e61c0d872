#include "services/rollup/closings.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"

namespace strata::rollup {

absl::Status Closings::Health() const {
  RETURN_IF_ERROR(engine_.Health());
  return members_ != nullptr ? members_->Health() : absl::OkStatus();
}

absl::StatusOr<std::vector<v1::PartClosings>> Closings::Here(
    const std::string& event_id) const {
  RETURN_IF_ERROR(engine_.Health());
  ASSIGN_OR_RETURN(std::vector<v1::PartClosings> parts,
                   engine_.ClosingsOfParts(event_id));
  // Read from a part still catching up, or while it was taken: passes.
  RETURN_IF_ERROR(engine_.Health());
  if (members_ == nullptr) return parts;
  // A part another instance claimed since (this one's session ended, not
  // told yet) is left to that one.
  const std::string self = members_->self_address();
  std::vector<v1::PartClosings> claimed;
  for (v1::PartClosings& part : parts) {
    if (members_->FoldPartOwner(part.fold_part()) == self) {
      claimed.push_back(std::move(part));
    }
  }
  return claimed;
}

absl::StatusOr<v1::ListPendingResponse> Closings::Gather(
    const std::string& event_id) const {
  RETURN_IF_ERROR(Health());
  std::map<int32_t, v1::PartClosings> by_part;
  ASSIGN_OR_RETURN(std::vector<v1::PartClosings> here, Here(event_id));
  for (v1::PartClosings& part : here) {
    const int32_t fold_part = part.fold_part();
    by_part[fold_part] = std::move(part);
  }
  const int32_t fold_parts = engine_.fold_partitions();
  if (members_ != nullptr) {
    const std::string self = members_->self_address();
    std::vector<PeerList> calls;
    std::map<std::string, size_t> call_of;  // By address.
    std::vector<std::set<int32_t>> asked;   // The parts of each call.
    for (int32_t part = 0; part < fold_parts; ++part) {
      if (by_part.count(part) > 0) continue;
      const std::optional<std::string> owner = members_->FoldPartOwner(part);
      if (!owner || *owner == self) continue;  // Refused below.
      auto [it, added] = call_of.try_emplace(*owner, calls.size());
      if (added) {
        PeerList& call = calls.emplace_back();
        call.address = *owner;
        call.request.set_event_id(event_id);
        asked.emplace_back();
      }
      asked[it->second].insert(part);
    }
    SendAll(*stubs_, calls, peer_timeout_,
            &v1::RollupPeerService::Stub::async_interface::ListPendingHere);
    for (size_t c = 0; c < calls.size(); ++c) {
      PeerList& call = calls[c];
      if (!call.status.ok()) {
        return PeerFailure(call.address,
                           absl::StrCat("the closes of ", kRollupChangesTopic,
                                        " parts ",
                                        absl::StrJoin(asked[c], ", ")),
                           call.status);
      }
      // Only the parts asked: another instance answers for the rest.
      for (v1::PartClosings& part : *call.response.mutable_parts()) {
        if (asked[c].count(part.fold_part()) > 0) {
          const int32_t fold_part = part.fold_part();
          by_part[fold_part] = std::move(part);
        }
      }
    }
  }
  for (int32_t part = 0; part < fold_parts; ++part) {
    if (by_part.count(part) == 0) {
      return absl::UnavailableError(absl::StrCat(
          "rollup: no instance answers for ", kRollupChangesTopic, "/", part,
          " now (it is between instances); retry"));
    }
  }
  // A close is complete once every part has read it and completed it.
  std::map<std::string, std::pair<v1::ClosedPeriod, int32_t>> closes;
  std::map<std::string, v1::PendingEvent> waiting;  // By event id.
  for (auto& [part, closings] : by_part) {
    for (v1::ClosedPeriod& close : *closings.mutable_closed()) {
      auto [it, added] =
          closes.try_emplace(close.period().label(), close, 0);
      if (close.complete()) ++it->second.second;
    }
    for (v1::PendingEvent& event : *closings.mutable_pending()) {
      waiting.emplace(event.event().event_id(), std::move(event));
    }
  }
  v1::ListPendingResponse all;
  for (auto& [label, close] : closes) {
    close.first.set_complete(close.second == fold_parts);
    *all.add_closed() = std::move(close.first);
  }
  for (auto& [id, event] : waiting) *all.add_pending() = std::move(event);
  return all;
}

absl::StatusOr<v1::ListPendingResponse> Closings::List() const {
  return Gather("");
}

absl::StatusOr<std::optional<v1::PendingEvent>> Closings::Pending(
    const std::string& event_id) const {
  ASSIGN_OR_RETURN(v1::ListPendingResponse found, Gather(event_id));
  for (v1::PendingEvent& event : *found.mutable_pending()) {
    if (event.event().event_id() == event_id) return std::move(event);
  }
  return std::nullopt;
}

}  // namespace strata::rollup
