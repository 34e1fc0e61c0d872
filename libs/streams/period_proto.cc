#include "libs/streams/period_proto.h"

#include "absl/strings/str_cat.h"

namespace strata {

absl::StatusOr<Period> PeriodFromProto(const v1::Period& period,
                                       absl::string_view field) {
  if (!IsPeriodKind(period.kind())) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".kind: required"));
  }
  absl::StatusOr<Period> parsed =
      ParsePeriod(static_cast<PeriodKind>(period.kind()), period.label());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".label: ", parsed.status().message()));
  }
  return *parsed;
}

v1::Period PeriodToProto(const Period& period) {
  v1::Period proto;
  proto.set_kind(static_cast<v1::PeriodKind>(period.kind));
  proto.set_label(PeriodLabel(period));
  return proto;
}

}  // namespace strata
