#include "services/ingest/event_validator.h"

#include <cmath>

#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/status/status_matchers.h"

namespace strata::ingest {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::StatusIs;
using ::strata::testing::UnitChange;
using ::testing::HasSubstr;

class EventValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    defs_ = *Definitions().WithBatch(
        Batch({UnitChange("team", ""), KpiChange("revenue")}));
  }

  v1::KpiEvent* Add(const std::string& id) {
    v1::KpiEvent* e = events_.Add();
    e->set_event_id(id);
    e->set_kpi_id("revenue");
    e->set_unit_id("team");
    e->mutable_event_time()->set_seconds(1'790'000'000);
    e->set_value(10);
    return e;
  }

  Definitions defs_;
  google::protobuf::RepeatedPtrField<v1::KpiEvent> events_;
};

TEST_F(EventValidatorTest, AcceptsWellFormedEvents) {
  Add("a");
  Add("b");
  EXPECT_OK(ValidateKpiEvents(events_, defs_));
}

TEST_F(EventValidatorTest, NamesTheEventAndFieldAtFault) {
  Add("a");
  Add("b")->set_value(std::nan(""));
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[1].value: must be finite")));
}

TEST_F(EventValidatorTest, RejectsMissingAndMalformedFields) {
  Add("");
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].event_id: required")));
  events_.Clear();
  Add("has space");
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].event_id")));
  events_.Clear();
  Add("a")->clear_event_time();
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].event_time: required")));
  events_.Clear();
  Add("a")->set_value(2e12);
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].value")));
  events_.Clear();
  // Year 0001 and 9999 were accepted, each a new set of cells.
  Add("a")->mutable_event_time()->set_seconds(-62135596800);
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].event_time: outside 1900")));
  events_.Clear();
  // Stored as 0 before: refused rather than silently zeroed.
  Add("a")->set_value(1e-5);
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].value: 1e-05 is below the "
                                 "resolution of 0.0001")));
}

TEST_F(EventValidatorTest, RejectsARepeatedIdWithinTheBatch) {
  Add("a");
  Add("b");
  Add("a");
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[2].event_id: repeats events[0]")));
}

TEST_F(EventValidatorTest, UnknownKpiOrUnitIsNotFound) {
  Add("a")->set_kpi_id("revenu");
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("events[0].kpi_id: unknown KPI 'revenu'")));
  events_.Clear();
  Add("a")->set_unit_id("nowhere");
  EXPECT_THAT(
      ValidateKpiEvents(events_, defs_),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("events[0].unit_id")));
}

TEST_F(EventValidatorTest, CorrectionsAreCheckedWhole) {
  v1::KpiEvent* fix = Add("fix");
  fix->set_corrects_event_id("a");
  EXPECT_OK(ValidateKpiEvents(events_, defs_));
  fix->set_voids(true);
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].value: a correction that voids "
                                 "carries no value")));
  fix->set_value(0);
  EXPECT_OK(ValidateKpiEvents(events_, defs_));
  fix->set_corrects_event_id("fix");
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].corrects_event_id: names the "
                                 "correction itself")));
  fix->set_corrects_event_id("bad id");
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].corrects_event_id: must be "
                                 "printable")));
  fix->clear_corrects_event_id();
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].voids: only with "
                                 "corrects_event_id")));
}

TEST_F(EventValidatorTest, ComputedKpisTakeNoEvents) {
  v1::DefinitionChange margin = KpiChange("margin");
  margin.mutable_kpi()->set_time_aggregation(v1::TIME_AGGREGATION_UNSPECIFIED);
  margin.mutable_kpi()->set_hierarchy_aggregation(
      v1::HIERARCHY_AGGREGATION_RATIO);
  margin.mutable_kpi()->mutable_formula()->set_op(v1::Formula::OPERATOR_RATIO);
  margin.mutable_kpi()->mutable_formula()->set_left_kpi_id("revenue");
  margin.mutable_kpi()->mutable_formula()->set_right_kpi_id("cost");
  defs_ = *defs_.WithBatch(Batch({KpiChange("cost"), margin}));
  Add("m")->set_kpi_id("margin");
  EXPECT_THAT(ValidateKpiEvents(events_, defs_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("events[0].kpi_id: KPI 'margin' is computed "
                                 "from 'revenue' and 'cost'")));
}

}  // namespace
}  // namespace strata::ingest
