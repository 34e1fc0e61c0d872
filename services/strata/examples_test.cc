// The files in examples/ are what a new user tries first: they must apply
// and ingest cleanly.

#include <fstream>
#include <sstream>

#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "libs/definitions/definitions.h"
#include "libs/status/status_matchers.h"
#include "services/ingest/event_validator.h"
#include "services/strata/csv_events.h"

namespace strata::cli {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

TEST(ExamplesTest, DefinitionsApplyAndEventsValidateAgainstThem) {
  v1::DefinitionBatch batch;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  Read(STRATA_EXAMPLES_DIR "/definitions.json"), &batch)
                  .ok());
  auto definitions = Definitions().WithBatch(batch);
  ASSERT_OK(definitions);
  EXPECT_EQ(definitions->unit_count(), 4u);
  EXPECT_EQ(definitions->kpi_count(), 3u);

  std::istringstream csv(Read(STRATA_EXAMPLES_DIR "/events.csv"));
  auto events = ParseKpiEventsCsv(csv);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 8u);
  google::protobuf::RepeatedPtrField<v1::KpiEvent> repeated(events->begin(),
                                                            events->end());
  EXPECT_OK(ingest::ValidateKpiEvents(repeated, *definitions));
}

}  // namespace
}  // namespace strata::cli
