#pragma once

// The closed periods and the events waiting for a decision, as the
// closing service answers them. They are held per fold part (SCALE_OUT.md):
// whole, or by one instance, the engine holds them all; scaled out over
// several instances, each holds those of the fold parts it folds, and
// this gathers every part's from the instances that fold them (one call
// to each), as the MemberDirectory names them.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/rollup/member_directory.h"
#include "services/rollup/peer_calls.h"
#include "services/rollup/rollup_engine.h"
#include "strata/v1/closing_service.pb.h"
#include "strata/v1/rollup_internal.pb.h"
#include "strata/v1/rollup_peer_service.pb.h"

namespace strata::rollup {

class Closings {
 public:
  // `members` and `stubs`: null where no other instance folds parts.
  Closings(const RollupEngine& engine, const MemberDirectory* members,
           PeerStubs* stubs, absl::Duration peer_timeout = absl::Seconds(10))
      : engine_(engine),
        members_(members),
        peer_timeout_(peer_timeout),
        stubs_(stubs) {}

  absl::Status Health() const;

  // Every fold part's: a close is complete once every part has read it
  // and completed it. UNAVAILABLE while a part has no known reader or its
  // reader does not answer for it (it is between instances).
  absl::StatusOr<v1::ListPendingResponse> List() const;
  // The event waiting under `event_id` in any fold part; nullopt when
  // none waits (every part answered).
  absl::StatusOr<std::optional<v1::PendingEvent>> Pending(
      const std::string& event_id) const;

  // What each fold part read here holds (the peers' ListPendingHere), of
  // those the directory names this instance for; `event_id` empty: every
  // waiting event.
  absl::StatusOr<std::vector<v1::PartClosings>> Here(
      const std::string& event_id) const;

 private:
  using PeerList =
      PeerCall<v1::ListPendingHereRequest, v1::ListPendingHereResponse>;
  // Every fold part's: Here(), and what the owners of the others answer
  // for the parts asked of them.
  absl::StatusOr<v1::ListPendingResponse> Gather(
      const std::string& event_id) const;

  const RollupEngine& engine_;
  const MemberDirectory* const members_;
  const absl::Duration peer_timeout_;
  PeerStubs* const stubs_;
};

}  // namespace strata::rollup
