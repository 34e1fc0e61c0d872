#include "libs/streams/kpi_event_identity.h"

#include "libs/aggregation/fixed_point.h"

namespace strata {

uint64_t KpiEventFingerprint(const v1::KpiEvent& event) {
  StableHasher hash;
  hash.AddField(event.kpi_id());
  hash.AddField(event.unit_id());
  hash.AddInt(event.event_time().seconds());
  hash.AddInt(event.event_time().nanos());
  hash.AddInt(ToFixedPoint(event.value()));
  hash.AddField(event.source());
  // Only corrections hash these, so plain events keep their fingerprints.
  if (!event.corrects_event_id().empty()) {
    hash.AddField(event.corrects_event_id());
    hash.AddInt(event.voids());
  }
  return hash.hash();
}

uint64_t KpiEventPlace(const v1::KpiEvent& event) {
  StableHasher hash;
  hash.AddField(event.kpi_id());
  hash.AddField(event.unit_id());
  hash.AddInt(event.event_time().seconds());
  hash.AddInt(event.event_time().nanos());
  return hash.hash();
}

}  // namespace strata
