#pragma once

// The topics Strata's services talk through, and how many partitions each
// has. Keys: KPI events by event id (every copy of an id in one partition,
// see kpi_event_identity.h); rollups by their cell key.

#include <cstdint>
#include <map>
#include <string>

namespace strata {

// KPI events from the feeds, appended by ingest, read by rollup.
inline constexpr char kKpiEventsTopic[] = "strata.kpi-events";
// Definitions; one partition, so every service applies them in one order.
inline constexpr char kDefinitionsTopic[] = "strata.definitions";
// Internal to rollup: KPI events routed by unit, from its stage A to its
// fold partitions (services/rollup/SCALE_OUT.md); kept forever, as the
// events are.
inline constexpr char kRollupChangesTopic[] = "strata.rollup-changes";
// Internal to rollup: each fold partition's part of every cell it changed,
// for its stage C to merge; compacted (the latest part per key).
inline constexpr char kRollupPartialsTopic[] = "strata.rollup-partials";
// Internal to rollup: where each scaled-out instance answers and which
// partitions of strata.rollup-partials it merges (v1::RollupMember);
// compacted, keyed by the instance's address.
inline constexpr char kRollupMembersTopic[] = "strata.rollup-members";
// The rollup changelog, read by alerts and by downstream analytics.
inline constexpr char kRollupsTopic[] = "strata.rollups";
// Acknowledgements and resolutions of alerts.
inline constexpr char kAlertActionsTopic[] = "strata.alert-actions";

// The consumer group whose committed positions show how far rollup has
// come (ingest's back-pressure reads them).
inline constexpr char kRollupConsumerGroup[] = "strata-rollup";
// Rollup's stage A (route), on strata.kpi-events; its fold partitions
// then report on strata.rollup-changes as kRollupConsumerGroup.
inline constexpr char kRollupRouteConsumerGroup[] = "strata-rollup-route";
// Rollup's stage C (combine), on strata.rollup-partials.
inline constexpr char kRollupCombineConsumerGroup[] = "strata-rollup-combine";

// Topic -> partition count for a fresh log.
std::map<std::string, int32_t> DefaultTopics();

}  // namespace strata
