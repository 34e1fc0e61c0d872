// Fuzzes Definitions::WithBatch with DefinitionBatches (protobuf binary),
// applied both to an empty snapshot and to a small organisation, so that new
// definitions and changes to existing ones are reached. Beyond never
// crashing, it checks:
// - an error has one of the documented codes and names changes[i], the
//   first problem: changes[0..i) alone apply;
// - every unit's path runs through known parents to a root, within
//   kMaxUnitDepth levels, and nothing already defined moves;
// - an OK snapshot replays: WithBatch(ToBatch()) on an empty snapshot gives
//   the same units (definitions and paths), KPIs and targets;
// - applying the same changes again is a no-op, as definitions.proto says.
//
// Seeds: fuzz/corpus/definitions_fuzz/, encoded from text format with
//   protoc --encode=strata.v1.DefinitionBatch -I proto \
//     proto/strata/v1/definitions.proto < seed.txtpb > seed.pb

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "fuzz/fuzz_check.h"
#include "google/protobuf/util/message_differencer.h"
#include "libs/definitions/definitions.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/period/period.h"
#include "strata/v1/definitions.pb.h"

namespace strata {
namespace {

using google::protobuf::util::MessageDifferencer;

const Definitions& Organisation() {
  static const Definitions* const definitions = [] {
    using namespace strata::testing;  // NOLINT: the builders.
    auto built = Definitions().WithBatch(
        Batch({UnitChange("ent", ""), UnitChange("north", "ent"),
               UnitChange("north-t1", "north"), KpiChange("sales"),
               KpiChange("headcount", v1::TIME_AGGREGATION_LAST,
                         v1::POLARITY_LOWER_IS_BETTER, 110),
               TargetChange("sales", "north-t1", "2026-11", 1000)}));
    FUZZ_CHECK(built.ok());
    return new Definitions(*std::move(built));
  }();
  return *definitions;
}

// The index i of a message "changes[i]...", or -1.
int NamedIndex(absl::string_view message) {
  if (!absl::ConsumePrefix(&message, "changes[")) return -1;
  const size_t end = message.find(']');
  int index = -1;
  if (end == absl::string_view::npos ||
      !absl::SimpleAtoi(message.substr(0, end), &index)) {
    return -1;
  }
  return index;
}

bool SameTarget(std::optional<double> a, std::optional<double> b) {
  if (a.has_value() != b.has_value()) return false;
  return !a.has_value() || *a == *b || (std::isnan(*a) && std::isnan(*b));
}

// `b` holds exactly what `a` holds, under the same indexes.
void CheckSame(const Definitions& a, const Definitions& b) {
  FUZZ_CHECK(a.unit_count() == b.unit_count());
  FUZZ_CHECK(a.kpi_count() == b.kpi_count());
  for (UnitIndex u = 0; u < a.unit_count(); ++u) {
    FUZZ_CHECK(
        MessageDifferencer::Equals(a.unit(u).definition, b.unit(u).definition));
    FUZZ_CHECK(a.unit(u).path_to_root == b.unit(u).path_to_root);
    FUZZ_CHECK(b.FindUnit(a.unit(u).definition.unit_id()) == u);
  }
  for (KpiIndex k = 0; k < a.kpi_count(); ++k) {
    FUZZ_CHECK(
        MessageDifferencer::Equals(a.kpi(k).definition, b.kpi(k).definition));
    FUZZ_CHECK(b.FindKpi(a.kpi(k).definition.kpi_id()) == k);
  }
  // ToBatch lists every target; each must be there, with the same value.
  const v1::DefinitionBatch a_batch = a.ToBatch();
  const v1::DefinitionBatch b_batch = b.ToBatch();
  FUZZ_CHECK(a_batch.changes_size() == b_batch.changes_size());
  for (const v1::DefinitionChange& change : a_batch.changes()) {
    if (!change.has_target()) continue;
    const v1::Target& t = change.target();
    const std::optional<KpiIndex> kpi = a.FindKpi(t.kpi_id());
    const std::optional<UnitIndex> unit = a.FindUnit(t.unit_id());
    FUZZ_CHECK(kpi && unit);
    absl::StatusOr<Period> period = ParsePeriod(
        static_cast<PeriodKind>(t.period().kind()), t.period().label());
    FUZZ_CHECK(period.ok());
    FUZZ_CHECK(a.Target(*kpi, *unit, *period) == t.value());
    FUZZ_CHECK(SameTarget(a.Target(*kpi, *unit, *period),
                          b.Target(*kpi, *unit, *period)));
  }
}

void CheckBatch(const Definitions& base, const v1::DefinitionBatch& batch) {
  absl::StatusOr<Definitions> next = base.WithBatch(batch);
  if (!next.ok()) {
    const absl::StatusCode code = next.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
               code == absl::StatusCode::kNotFound ||
               code == absl::StatusCode::kFailedPrecondition ||
               code == absl::StatusCode::kUnimplemented ||
               code == absl::StatusCode::kResourceExhausted);
    if (absl::StartsWith(next.status().message(), "changes: ")) {
      FUZZ_CHECK(batch.changes_size() > kMaxChangesPerBatch);
      return;
    }
    const int index = NamedIndex(next.status().message());
    FUZZ_CHECK(index >= 0 && index < batch.changes_size());
    v1::DefinitionBatch prefix;
    prefix.mutable_changes()->CopyFrom(batch.changes());
    prefix.mutable_changes()->DeleteSubrange(index,
                                             batch.changes_size() - index);
    FUZZ_CHECK(base.WithBatch(prefix).ok());
    return;
  }
  // Nothing already there is lost or renumbered.
  FUZZ_CHECK(next->unit_count() >= base.unit_count());
  FUZZ_CHECK(next->kpi_count() >= base.kpi_count());
  for (UnitIndex u = 0; u < base.unit_count(); ++u) {
    FUZZ_CHECK(next->unit(u).path_to_root == base.unit(u).path_to_root);
  }
  // Every path runs from the unit itself to a root, through known parents.
  for (UnitIndex u = 0; u < next->unit_count(); ++u) {
    const auto& path = next->unit(u).path_to_root;
    FUZZ_CHECK(!path.empty() && path.front() == u);
    FUZZ_CHECK(path.size() <= kMaxUnitDepth);
    FUZZ_CHECK(next->unit(path.back()).definition.parent_id().empty());
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      FUZZ_CHECK(path[i + 1] < path[i]);
      FUZZ_CHECK(next->FindUnit(next->unit(path[i]).definition.parent_id()) ==
                 path[i + 1]);
    }
  }
  // Replay from the log rebuilds the same snapshot.
  absl::StatusOr<Definitions> replayed =
      Definitions().WithBatch(next->ToBatch());
  FUZZ_CHECK(replayed.ok());
  CheckSame(*next, *replayed);
  // The same changes again change nothing.
  absl::StatusOr<Definitions> again = next->WithBatch(batch);
  FUZZ_CHECK(again.ok());
  CheckSame(*next, *again);
}

}  // namespace
}  // namespace strata

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  strata::v1::DefinitionBatch batch;
  if (!batch.ParseFromArray(data, static_cast<int>(size))) return 0;
  strata::CheckBatch(strata::Definitions(), batch);
  strata::CheckBatch(strata::Organisation(), batch);
  return 0;
}
