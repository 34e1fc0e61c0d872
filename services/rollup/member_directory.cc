#include "services/rollup/member_directory.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"
#include "strata/v1/rollup_internal.pb.h"

namespace strata::rollup {

MemberDirectory::MemberDirectory(
    eventlog::EventLog& log, std::function<MemberHoldings()> held_here,
    absl::Duration poll_timeout)
    : log_(log),
      held_here_(std::move(held_here)),
      poll_timeout_(poll_timeout) {}

MemberDirectory::~MemberDirectory() { Stop(); }

absl::Status MemberDirectory::Start(const std::string& self_address) {
  if (self_address.empty()) {
    return absl::InvalidArgumentError(
        "rollup members: an address other instances reach this one at is "
        "required");
  }
  {
    absl::MutexLock lock(&mu_);
    self_address_ = self_address;
  }
  if (absl::Status opened = OpenConsumer(); !opened.ok()) {
    // Says why the instance cannot serve, in place of "starting".
    health_.Set(absl::Status(
        opened.code(), absl::StrCat("rollup members: reading ",
                                    kRollupMembersTopic, ": ",
                                    opened.message())));
    return opened;
  }
  caught_up_ = caught_up_at_ == 0;
  if (caught_up_) health_.Set(absl::OkStatus());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rollup-members");
    Run();
  });
  return absl::OkStatus();
}

void MemberDirectory::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  if (published_.has_value() && *published_ != MemberHoldings{}) {
    if (absl::Status left = Publish({}); !left.ok()) {
      STRATA_LOG(WARNING) << "rollup members: could not say that "
                          << self_address() << " left: " << left;
    }
  }
}

absl::Status MemberDirectory::OpenConsumer() {
  const eventlog::TopicPartition members{kRollupMembersTopic, 0};
  ASSIGN_OR_RETURN(caught_up_at_, log_.EndOffset(members));
  ASSIGN_OR_RETURN(consumer_, log_.NewConsumer("strata-rollup-members"));
  return consumer_->Assign({{members, 0}});
}

std::string MemberDirectory::self_address() const {
  absl::MutexLock lock(&mu_);
  return self_address_;
}

absl::Status MemberDirectory::Publish(const MemberHoldings& held) {
  v1::RollupMember member;
  member.set_address(self_address());
  for (int32_t p : held.partials) member.add_partials_partitions(p);
  for (int32_t p : held.fold_parts) member.add_fold_parts(p);
  return log_.Append(kRollupMembersTopic,
                     {{member.address(), member.SerializeAsString(), 0}});
}

void MemberDirectory::Apply(const eventlog::LogRecord& record) {
  v1::RollupMember member;
  if (!member.ParseFromString(record.value) || member.address() != record.key) {
    // Only reads are sent by it, and they fail where they land wrong.
    STRATA_LOG(ERROR) << "rollup members: malformed record at "
                      << kRollupMembersTopic << "/0@" << record.offset
                      << " ignored";
    return;
  }
  absl::MutexLock lock(&mu_);
  claims_[member.address()] = Claim{
      record.offset,
      {{member.partials_partitions().begin(),
        member.partials_partitions().end()},
       {member.fold_parts().begin(), member.fold_parts().end()}}};
}

void MemberDirectory::Run() {
  bool warned = false;
  while (!stop_) {
    MemberHoldings held = held_here_();
    std::sort(held.partials.begin(), held.partials.end());
    std::sort(held.fold_parts.begin(), held.fold_parts.end());
    if (held != published_) {
      if (absl::Status published = Publish(held); published.ok()) {
        STRATA_LOG(INFO) << "rollup members: " << self_address()
                         << " merges partitions ["
                         << absl::StrJoin(held.partials, ", ") << "] of "
                         << kRollupPartialsTopic << " and folds ["
                         << absl::StrJoin(held.fold_parts, ", ") << "] of "
                         << kRollupChangesTopic;
        published_ = std::move(held);
        warned = false;
      } else if (!warned) {
        // Retried each round; meanwhile others forward what moved here
        // elsewhere, and are answered UNAVAILABLE.
        STRATA_LOG(WARNING) << "rollup members: cannot publish what "
                            << self_address() << " merges: " << published;
        warned = true;
      }
    }
    absl::StatusOr<std::vector<eventlog::LogRecord>> records =
        consumer_->Poll(256, poll_timeout_);
    if (!records.ok()) {
      health_.Set(absl::UnavailableError(
          absl::StrCat("rollup members: reading ", kRollupMembersTopic, ": ",
                       records.status().message())));
      absl::SleepFor(poll_timeout_);
      continue;
    }
    for (const eventlog::LogRecord& record : *records) {
      Apply(record);
      if (record.offset + 1 >= caught_up_at_) caught_up_ = true;
    }
    if (caught_up_) health_.Set(absl::OkStatus());
  }
}

std::optional<std::string> MemberDirectory::OwnerOf(int32_t partition) const {
  return LatestClaim(partition, &MemberHoldings::partials);
}

std::optional<std::string> MemberDirectory::FoldPartOwner(int32_t part) const {
  return LatestClaim(part, &MemberHoldings::fold_parts);
}

std::optional<std::string> MemberDirectory::LatestClaim(
    int32_t partition, std::vector<int32_t> MemberHoldings::*kind) const {
  absl::MutexLock lock(&mu_);
  const std::string* owner = nullptr;
  int64_t latest = -1;
  for (const auto& [address, claim] : claims_) {
    const std::vector<int32_t>& held = claim.held.*kind;
    if (claim.offset > latest &&
        std::find(held.begin(), held.end(), partition) != held.end()) {
      owner = &address;
      latest = claim.offset;
    }
  }
  if (owner == nullptr) return std::nullopt;
  return *owner;
}

}  // namespace strata::rollup
