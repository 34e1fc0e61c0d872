#include "services/strata/json_locator.h"

#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kBatch[] = R"({
  "changes": [
    {"orgUnit": {"unitId": "ent", "name": "Enterprise"}},
    {
      "kpi": {
        "kpi_id": "sales",
        "thresholds": {"greenPct": 100, "amberPct": 120},
        "targetProfile": {
          "kind": "KIND_WORKING_DAYS",
          "holidays": ["2026-12-25",
                       "2026-13-01"]
        }
      }
    }
  ]
})";

TEST(JsonLocatorTest, FindsTheLineOfAFieldPath) {
  auto locator = JsonLocator::Parse(kBatch);
  ASSERT_OK(locator);
  EXPECT_EQ(locator->LineOf("changes[0].org_unit.unit_id"), 3);
  EXPECT_EQ(locator->LineOf("changes[1]"), 4);
  EXPECT_EQ(locator->LineOf("changes[1].kpi.kpi_id"), 6);
  EXPECT_EQ(locator->LineOf("changes[1].kpi.thresholds"), 7);
  // Either spelling of a key.
  EXPECT_EQ(locator->LineOf("changes[1].kpi.target_profile.kind"), 9);
  EXPECT_EQ(locator->LineOf("changes[1].kpi.target_profile.holidays[1]"), 11);
  // A field the file leaves out: its parent's line.
  EXPECT_EQ(locator->LineOf("changes[1].kpi.polarity"), 5);
  EXPECT_EQ(locator->LineOf("changes[0].org_unit.parent_id"), 3);
  EXPECT_EQ(locator->LineOf("elsewhere"), std::nullopt);
}

TEST(JsonLocatorTest, NamesTheLineOfASyntaxError) {
  EXPECT_THAT(JsonLocator::Parse("{\n  \"a\": 1,\n  \"b\" 2\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 3: expected ':'")));
  EXPECT_THAT(JsonLocator::Parse("{\n  \"a\": [1, 2\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 3")));
  EXPECT_THAT(JsonLocator::Parse("{\"a\": \"no end\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 1: a line break inside a string")));
  // Deep nesting is refused, not a crash.
  EXPECT_THAT(JsonLocator::Parse(std::string(100000, '[')),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("nested deeper than 200")));
}

}  // namespace
}  // namespace strata
