#include "services/strata/csv_events.h"

#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace strata::cli {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

TEST(CsvEventsTest, ParsesRowsAndSkipsHeaderAndComments) {
  std::istringstream in(
      "event_id,kpi_id,unit_id,event_time,value,source\n"
      "# a comment\n"
      "e-1,revenue,team-1,2026-11-03T10:00:00Z,1250.5,erp\n"
      "e-2,headcount,team-2,2026-11-04T00:00:00+01:00,12\n");
  auto events = ParseKpiEventsCsv(in);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].kpi_id(), "revenue");
  EXPECT_EQ((*events)[0].value(), 1250.5);
  EXPECT_EQ((*events)[0].source(), "erp");
  // The offset is honoured: 00:00+01:00 is 23:00 UTC the day before.
  EXPECT_EQ((*events)[1].event_time().seconds() % 86400, 23 * 3600);
  EXPECT_EQ((*events)[1].source(), "");
}

TEST(CsvEventsTest, NamesLineAndColumnOfABadRow) {
  std::istringstream bad_time("e-1,revenue,team-1,yesterday,1\n");
  EXPECT_THAT(ParseKpiEventsCsv(bad_time),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 1: event_time")));
  std::istringstream bad_value(
      "e-1,revenue,team-1,2026-11-03T10:00:00Z,1\n"
      "e-2,revenue,team-1,2026-11-03T10:00:00Z,lots\n");
  EXPECT_THAT(
      ParseKpiEventsCsv(bad_value),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2: value")));
  std::istringstream short_row("e-1,revenue\n");
  EXPECT_THAT(ParseKpiEventsCsv(short_row),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("row")));
}

TEST(CsvEventsTest, FormatRoundTrips) {
  std::istringstream in("e-9,revenue,team-1,2026-11-03T10:00:00Z,7.25,feed\n");
  auto events = ParseKpiEventsCsv(in);
  ASSERT_OK(events);
  std::istringstream again(FormatKpiEventCsv((*events)[0]) + "\n");
  auto reparsed = ParseKpiEventsCsv(again);
  ASSERT_OK(reparsed);
  EXPECT_EQ((*reparsed)[0].SerializeAsString(),
            (*events)[0].SerializeAsString());
}

TEST(CsvEventsTest, TimesOutOfRangeAreErrorsNotAborts) {
  // protobuf's conversion aborted the client on these (found by fuzzing).
  for (const char* time : {"10000-01-01T00:00:00Z", "infinite-future",
                           "infinite-past"}) {
    std::istringstream in(absl::StrCat("e-1,revenue,team-1,", time, ",1\n"));
    EXPECT_THAT(ParseKpiEventsCsv(in),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("line 1: event_time")))
        << time;
  }
}

TEST(CsvEventsTest, EveryDigitOfTimeAndValueRoundTrips) {
  // Nanoseconds were cut to microseconds on reading and dropped on writing;
  // values were written with 6 significant digits (1234567.5 as 1.23457e+06).
  std::istringstream in(
      "e-1,revenue,team-1,2026-11-03T10:00:00.123456789Z,1234567.5,erp\n"
      "e-2,revenue,team-1,2026-11-03T10:00:00Z,11666.666666666666,erp\n");
  auto events = ParseKpiEventsCsv(in);
  ASSERT_OK(events);
  EXPECT_EQ((*events)[0].event_time().nanos(), 123456789);
  for (const v1::KpiEvent& event : *events) {
    std::istringstream again(FormatKpiEventCsv(event) + "\n");
    auto reparsed = ParseKpiEventsCsv(again);
    ASSERT_OK(reparsed);
    EXPECT_EQ((*reparsed)[0].SerializeAsString(), event.SerializeAsString())
        << FormatKpiEventCsv(event);
  }
}

}  // namespace
}  // namespace strata::cli
