#pragma once

// Rollup queries over the folded cells (a CellSource) and the current
// definitions: a point, a series, a drill-down, a unit's scorecard.
// Plain functions of their request, free of gRPC; QueryService serves them.
//
//   RollupReader reader(engine_or_combiner, definitions);
//   ASSIGN_OR_RETURN(v1::GetChildrenResponse drill, reader.Children(request));

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/definitions/definitions_follower.h"
#include "services/rollup/cell_source.h"
#include "strata/v1/query_service.pb.h"
#include "strata/v1/scorecard_service.pb.h"

namespace strata::rollup {

inline constexpr int kMaxSeriesPeriods = 1'000;

class RollupReader {
 public:
  RollupReader(const CellSource& cells, DefinitionsFollower& definitions)
      : cells_(cells), definitions_(definitions) {}

  // NOT_FOUND when no event has reached the cell yet.
  absl::StatusOr<v1::RollupRecord> Get(const v1::RollupKey& key) const;
  absl::StatusOr<v1::GetSeriesResponse> Series(
      const v1::GetSeriesRequest& request) const;
  absl::StatusOr<v1::GetChildrenResponse> Children(
      const v1::GetChildrenRequest& request) const;
  absl::StatusOr<v1::GetUnitKpisResponse> UnitKpis(
      const v1::GetUnitKpisRequest& request) const;
  // What Scorecard() would refuse, before its open alerts are fetched.
  absl::Status CheckScorecard(const v1::GetScorecardRequest& request) const;
  // `open_alerts`: the unit's unresolved alerts of the period, or why
  // they could not be read.
  absl::StatusOr<v1::Scorecard> Scorecard(
      const v1::GetScorecardRequest& request,
      const absl::StatusOr<std::vector<v1::Alert>>& open_alerts) const;

 private:
  struct Cell {
    std::shared_ptr<const Definitions> defs;
    CellId id;
  };
  // The cell of `kpi_id`, `unit_id` and `period`, validated; errors name
  // the fields under `prefix` ("key.", "first.").
  absl::StatusOr<Cell> Resolve(const std::string& kpi_id,
                               const std::string& unit_id,
                               const v1::Period& period,
                               const std::string& prefix) const;
  // The cell's record, or one without a value when no event reached it,
  // with its status by the KPI's status rule (RecordOrEmpty) or its own
  // (OwnRecordOrEmpty).
  absl::StatusOr<v1::RollupRecord> RecordOrEmpty(const Definitions& defs,
                                                 const CellId& id,
                                                 absl::Time judged_at) const;
  // RecordOrEmpty of each of `ids`, read in one ReadRecords.
  absl::StatusOr<std::vector<v1::RollupRecord>> RecordsOrEmpty(
      const Definitions& defs, const std::vector<CellId>& ids,
      absl::Time judged_at) const;
  absl::StatusOr<v1::RollupRecord> OwnRecordOrEmpty(const Definitions& defs,
                                                    const CellId& id,
                                                    absl::Time judged_at) const;
  absl::Status ApplyStatusRuleAt(const Definitions& defs, const CellId& id,
                                 absl::Time judged_at,
                                 v1::RollupRecord& record) const;
  struct UnitPeriod {
    std::shared_ptr<const Definitions> defs;
    UnitIndex unit;
    Period period;
  };
  // The unit and period of a scorecard request, validated.
  absl::StatusOr<UnitPeriod> ResolveScorecard(
      const v1::GetScorecardRequest& request) const;

  const CellSource& cells_;
  DefinitionsFollower& definitions_;
};

}  // namespace strata::rollup
