#include "libs/definitions/definitions_as_of.h"

#include "absl/strings/str_cat.h"
#include "libs/definitions/definitions_record.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"

namespace strata {

absl::StatusOr<DefinitionsAsOf> ReadDefinitionsAsOf(eventlog::EventLog& log,
                                                    absl::Time as_of,
                                                    absl::Duration timeout) {
  const eventlog::TopicPartition tp{kDefinitionsTopic, 0};
  ASSIGN_OR_RETURN(int64_t start, log.StartOffset(tp));
  if (start != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        kDefinitionsTopic, " starts at offset ", start,
        ", not 0: the definitions' history before it is gone"));
  }
  ASSIGN_OR_RETURN(const int64_t end, log.EndOffset(tp));
  DefinitionsAsOf out;
  if (end == 0) return out;
  // A group of its own that never commits: it only reads.
  ASSIGN_OR_RETURN(auto consumer, log.NewConsumer("strata-definitions-as-of"));
  RETURN_IF_ERROR(consumer->Assign({{tp, 0}}));
  const absl::Time deadline = absl::Now() + timeout;
  while (out.records < end) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("reading ", kDefinitionsTopic, ": at offset ",
                       out.records, " of ", end, " after ",
                       absl::FormatDuration(timeout)));
    }
    ASSIGN_OR_RETURN(std::vector<eventlog::LogRecord> records,
                     consumer->Poll(256, absl::Milliseconds(100)));
    for (const eventlog::LogRecord& record : records) {
      if (record.offset != out.records) {
        return absl::DataLossError(
            absl::StrCat(kDefinitionsTopic, ": expected offset ", out.records,
                         ", read ", record.offset));
      }
      DefinitionsRecord applied =
          ApplyDefinitionsRecord(out.definitions, record);
      if (applied.appended > as_of) return out;
      if (applied.next) out.definitions = *std::move(applied.next);
      out.last_appended = applied.appended;
      if (++out.records == end) break;
    }
  }
  return out;
}

}  // namespace strata
