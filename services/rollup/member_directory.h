#pragma once

// Which instance of a scaled-out strata-rollup holds what (SCALE_OUT.md,
// "Queries"): librdkafka shows a group member its own assignment only, so
// each instance publishes its own on strata.rollup-members
// (v1::RollupMember, keyed by its address) when it changes, and reads
// everyone's. An instance holds the partitions of strata.rollup-partials
// its stage C merges, and the fold parts (partitions of
// strata.rollup-changes) its engine folds.
//
// A partition belongs to the latest claim on the topic: its new reader
// claims it after its previous reader did. An instance that lost it
// without saying so (killed) keeps a stale claim until then; calls sent
// there fail UNAVAILABLE, never with another instance's figures, since
// every instance answers only for what it holds itself.
//
//   MemberDirectory members(log, [&] {
//     return MemberHoldings{combiner.OwnedPartitions(), engine.ReadParts()};
//   });
//   RETURN_IF_ERROR(members.Start("10.0.0.7:7402"));
//   std::optional<std::string> owner = members.OwnerOf(3);

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/eventlog/event_log.h"
#include "libs/status/health_report.h"

namespace strata::rollup {

// What an instance holds, each list ascending.
struct MemberHoldings {
  std::vector<int32_t> partials;    // Partitions of strata.rollup-partials.
  std::vector<int32_t> fold_parts;  // Partitions of strata.rollup-changes.

  friend bool operator==(const MemberHoldings& a, const MemberHoldings& b) {
    return a.partials == b.partials && a.fold_parts == b.fold_parts;
  }
  friend bool operator!=(const MemberHoldings& a, const MemberHoldings& b) {
    return !(a == b);
  }
};

class MemberDirectory {
 public:
  // `held_here`: what this instance holds now, asked from the directory's
  // thread.
  MemberDirectory(eventlog::EventLog& log,
                  std::function<MemberHoldings()> held_here,
                  absl::Duration poll_timeout = absl::Milliseconds(100));
  ~MemberDirectory();

  // Reads strata.rollup-members from its start, and publishes what this
  // instance holds as it changes, on a thread of its own.
  // `self_address`: where this instance's RollupPeerService answers.
  absl::Status Start(const std::string& self_address);
  // Says that this instance holds nothing any more (best effort), then
  // stops.
  void Stop();

  // UNAVAILABLE until the members published before Start() are read.
  absl::Status Health() const { return health_.Get(); }
  // Empty before Start(). Thread-safe.
  std::string self_address() const;
  // Where the latest claim of a partition of strata.rollup-partials (or
  // of a fold part) was made; nullopt when none was. Thread-safe.
  std::optional<std::string> OwnerOf(int32_t partition) const;
  std::optional<std::string> FoldPartOwner(int32_t part) const;

 private:
  // Reads strata.rollup-members from its start; notes where it ends now.
  absl::Status OpenConsumer();
  void Run();
  // Publishes `held` as this instance's.
  absl::Status Publish(const MemberHoldings& held);
  void Apply(const eventlog::LogRecord& record);
  std::optional<std::string> LatestClaim(
      int32_t partition,
      std::vector<int32_t> MemberHoldings::*kind) const;

  eventlog::EventLog& log_;
  const std::function<MemberHoldings()> held_here_;
  const absl::Duration poll_timeout_;
  std::unique_ptr<eventlog::LogConsumer> consumer_;
  int64_t caught_up_at_ = 0;  // The topic's end at Start().
  bool caught_up_ = false;     // Read to there; directory thread.
  std::optional<MemberHoldings> published_;  // Directory thread.
  HealthReport health_{absl::UnavailableError("rollup members: starting")};

  struct Claim {
    int64_t offset = 0;  // Of the member's latest record.
    MemberHoldings held;
  };
  mutable absl::Mutex mu_;
  std::string self_address_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Claim> claims_ ABSL_GUARDED_BY(mu_);  // By address.

  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace strata::rollup
