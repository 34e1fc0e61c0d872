#include "services/rollup/testing/changelog_reader.h"

#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"

namespace strata::rollup {

absl::StatusOr<PublishedRecords> ReadPublished(eventlog::EventLog& log) {
  ASSIGN_OR_RETURN(std::unique_ptr<eventlog::LogConsumer> consumer,
                   log.NewConsumer("changelog-reader"));
  ASSIGN_OR_RETURN(const int32_t partitions, log.PartitionCount(kRollupsTopic));
  std::vector<eventlog::Position> positions;
  for (int32_t p = 0; p < partitions; ++p) {
    positions.push_back({{kRollupsTopic, p}, 0});
  }
  RETURN_IF_ERROR(consumer->Assign(positions));
  PublishedRecords published;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<eventlog::LogRecord> records,
                     consumer->Poll(1000, absl::Milliseconds(50)));
    if (records.empty()) return published;
    for (const eventlog::LogRecord& r : records) {
      if (!published[r.key].emplace_back().ParseFromString(r.value)) {
        return absl::DataLossError(
            absl::StrCat("unparsable record at ", kRollupsTopic, "/",
                         r.topic_partition.partition, "@", r.offset));
      }
    }
  }
}

}  // namespace strata::rollup
