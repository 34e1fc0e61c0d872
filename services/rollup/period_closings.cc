#include "services/rollup/period_closings.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/status/status_macros.h"

namespace strata::rollup {

bool PeriodClosings::Closing::complete() const {
  for (bool r : reached) {
    if (!r) return false;
  }
  return true;
}

// "<reached bits>\n<closed_time_ms>\n<closed_by>"
std::string PeriodClosings::Encode(const Closing& closing) {
  std::string bits;
  for (bool r : closing.reached) bits.push_back(r ? '1' : '0');
  return absl::StrCat(bits, "\n", closing.closed_time_ms, "\n",
                      closing.closed_by);
}

std::optional<PeriodClosings::Closing> PeriodClosings::Decode(
    const Period& period, absl::string_view encoded) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(encoded, absl::MaxSplits('\n', 2));
  if (parts.size() != 3) return std::nullopt;
  Closing closing;
  closing.period = period;
  for (char c : parts[0]) {
    if (c != '0' && c != '1') return std::nullopt;
    closing.reached.push_back(c == '1');
  }
  if (!absl::SimpleAtoi(parts[1], &closing.closed_time_ms)) return std::nullopt;
  closing.closed_by = std::string(parts[2]);
  return closing;
}

absl::Status PeriodClosings::Load(int32_t partitions) {
  ASSIGN_OR_RETURN(auto stored, store_.Closings(key_prefix_));
  absl::MutexLock lock(&mu_);
  partitions_ = partitions;
  closings_.clear();
  changed_closings_.clear();
  pending_.clear();
  pending_in_flight_.clear();
  reported_.clear();
  reported_in_flight_.clear();
  for (auto& [key, encoded] : stored) {
    const std::string label = key.substr(key_prefix_.size());
    auto kind = KindOfLabel(label);
    auto period = kind.ok() ? ParsePeriod(*kind, label) : kind.status();
    std::optional<Closing> closing =
        period.ok() ? Decode(*period, encoded) : std::nullopt;
    if (!closing || closing->reached.size() != static_cast<size_t>(partitions)) {
      return absl::DataLossError(
          absl::StrCat("rollup: malformed closing of '", label, "'"));
    }
    closings_[label] = *std::move(closing);
  }
  return absl::OkStatus();
}

bool PeriodClosings::Reach(const Period& period, const std::string& closed_by,
                           int32_t partition, int64_t time_ms) {
  absl::MutexLock lock(&mu_);
  const std::string label = PeriodLabel(period);
  auto [it, created] = closings_.try_emplace(label);
  Closing& closing = it->second;
  if (created) {
    closing.period = period;
    closing.closed_by = closed_by;
    closing.closed_time_ms = time_ms;
    closing.reached.assign(partitions_, false);
  }
  if (partition < 0 || partition >= partitions_ || closing.reached[partition]) {
    return false;  // A repeated close: nothing changes.
  }
  closing.reached[partition] = true;
  changed_closings_.push_back(label);
  return closing.complete();
}

std::optional<Period> PeriodClosings::ClosedFor(const Calendar& calendar,
                                                absl::Time time,
                                                int32_t partition) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [label, closing] : closings_) {
    if (partition < static_cast<int32_t>(closing.reached.size()) &&
        closing.reached[partition] && calendar.Start(closing.period) <= time &&
        time < calendar.End(closing.period)) {
      return closing.period;
    }
  }
  return std::nullopt;
}

bool PeriodClosings::IsComplete(const Period& closed) const {
  absl::MutexLock lock(&mu_);
  auto it = closings_.find(PeriodLabel(closed));
  return it != closings_.end() && it->second.complete();
}

bool PeriodClosings::Keeps(const Calendar& calendar,
                           const Period& period) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [label, closing] : closings_) {
    if (closing.complete() &&
        calendar.Start(closing.period) <= calendar.Start(period) &&
        calendar.End(period) <= calendar.End(closing.period)) {
      return true;
    }
  }
  return false;
}

void PeriodClosings::Hold(const std::string& id,
                          const v1::PendingEvent& pending) {
  absl::MutexLock lock(&mu_);
  pending_[id] = pending.SerializeAsString();
}

void PeriodClosings::Forget(const std::string& id) {
  absl::MutexLock lock(&mu_);
  pending_[id] = std::nullopt;
}

const std::optional<std::string>* PeriodClosings::Overlay(
    const std::string& id) const {
  if (auto it = pending_.find(id); it != pending_.end()) return &it->second;
  if (auto it = pending_in_flight_.find(id); it != pending_in_flight_.end()) {
    return &it->second;
  }
  return nullptr;
}

absl::StatusOr<std::optional<v1::PendingEvent>> PeriodClosings::Pending(
    const std::string& id) {
  std::optional<std::string> encoded;
  {
    absl::MutexLock lock(&mu_);
    if (const std::optional<std::string>* known = Overlay(id)) encoded = *known;
  }
  if (!encoded) {
    bool known;
    {
      absl::MutexLock lock(&mu_);
      known = Overlay(id) != nullptr;
    }
    if (known) return std::nullopt;  // Forgotten in memory.
    ASSIGN_OR_RETURN(encoded, store_.GetPending(StoreKey(id)));
    if (!encoded) return std::nullopt;
  }
  v1::PendingEvent pending;
  if (!pending.ParseFromString(*encoded)) {
    return absl::DataLossError(
        absl::StrCat("rollup: malformed pending event '", id, "'"));
  }
  return pending;
}

absl::StatusOr<std::vector<v1::PendingEvent>> PeriodClosings::AllPending() {
  ASSIGN_OR_RETURN(auto stored, store_.Pending(key_prefix_));
  std::map<std::string, std::optional<std::string>> merged;
  for (auto& [key, encoded] : stored) {
    merged[key.substr(key_prefix_.size())] = std::move(encoded);
  }
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, value] : pending_in_flight_) merged[id] = value;
    for (const auto& [id, value] : pending_) merged[id] = value;
  }
  std::vector<v1::PendingEvent> all;
  for (const auto& [id, encoded] : merged) {
    if (!encoded) continue;
    if (!all.emplace_back().ParseFromString(*encoded)) {
      return absl::DataLossError(
          absl::StrCat("rollup: malformed pending event '", id, "'"));
    }
  }
  return all;
}

absl::StatusOr<std::vector<v1::PendingEvent>> PeriodClosings::ApprovedFor(
    const Period& closed) {
  ASSIGN_OR_RETURN(std::vector<v1::PendingEvent> all, AllPending());
  std::vector<v1::PendingEvent> approved;
  const std::string label = PeriodLabel(closed);
  for (v1::PendingEvent& pending : all) {
    if (pending.approved() && pending.closed_period().label() == label) {
      approved.push_back(std::move(pending));
    }
  }
  return approved;
}

absl::Status PeriodClosings::KeepReported(const std::string& cell_key,
                                          const RollupCell& before) {
  ASSIGN_OR_RETURN(std::optional<RollupCell> kept, Reported(cell_key));
  if (kept) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  reported_[cell_key] = before;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<RollupCell>> PeriodClosings::Reported(
    const std::string& cell_key) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = reported_.find(cell_key); it != reported_.end()) {
      return it->second;
    }
    if (auto it = reported_in_flight_.find(cell_key);
        it != reported_in_flight_.end()) {
      return it->second;
    }
  }
  return store_.GetReported(StoreKey(cell_key));
}

void PeriodClosings::TakeChanges(StateChanges& changes) {
  absl::MutexLock lock(&mu_);
  for (const std::string& label : changed_closings_) {
    changes.closings.emplace_back(StoreKey(label), Encode(closings_.at(label)));
  }
  changed_closings_.clear();
  for (const auto& [id, pending] : pending_) {
    changes.pending.emplace_back(StoreKey(id), pending);
  }
  for (const auto& [cell_key, cell] : reported_) {
    changes.reported.emplace_back(StoreKey(cell_key), cell);
  }
  pending_in_flight_ = std::exchange(pending_, {});
  reported_in_flight_ = std::exchange(reported_, {});
}

std::vector<v1::ClosedPeriod> PeriodClosings::Closed() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::ClosedPeriod> closed;
  for (const auto& [label, closing] : closings_) {
    v1::ClosedPeriod& c = closed.emplace_back();
    c.mutable_period()->set_kind(static_cast<v1::PeriodKind>(closing.period.kind));
    c.mutable_period()->set_label(label);
    c.set_closed_by(closing.closed_by);
    c.mutable_closed_time()->set_seconds(closing.closed_time_ms / 1000);
    c.mutable_closed_time()->set_nanos(
        static_cast<int32_t>(closing.closed_time_ms % 1000) * 1'000'000);
    c.set_complete(closing.complete());
  }
  return closed;
}

}  // namespace strata::rollup
