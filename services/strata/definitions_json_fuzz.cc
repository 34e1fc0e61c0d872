// Fuzzes what `strata apply FILE.json` does with the file: protobuf's
// JsonStringToMessage into a strata.v1.DefinitionBatch (inline in
// Client::ApplyDefinitions), then what the server does with the batch,
// Definitions::WithBatch. Beyond never crashing, it checks that a snapshot
// printed as `strata definitions` prints it (MessageToJsonString) reads back
// and applies to the same snapshot. The JSON parser itself is Debian's
// uninstrumented libprotobuf: coverage guidance comes from the generated
// code and ours, so the dictionary (fuzz/definitions_json_fuzz.dict) and the
// seeds carry the field names.
//
// Seeds: fuzz/corpus/definitions_json_fuzz/, JSON as in examples/.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_check.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "libs/definitions/definitions.h"
#include "strata/v1/definitions.pb.h"

namespace {}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using google::protobuf::util::JsonStringToMessage;
  using google::protobuf::util::MessageDifferencer;
  using google::protobuf::util::MessageToJsonString;
  const std::string json(reinterpret_cast<const char*>(data), size);

  strata::v1::DefinitionBatch batch;
  if (!JsonStringToMessage(json, &batch).ok()) return 0;
  absl::StatusOr<strata::Definitions> definitions =
      strata::Definitions().WithBatch(batch);
  if (!definitions.ok()) return 0;

  // `strata definitions > file; strata apply file` restores the snapshot.
  const strata::v1::DefinitionBatch snapshot = definitions->ToBatch();
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  std::string printed;
  FUZZ_CHECK(MessageToJsonString(snapshot, &printed, print).ok());
  strata::v1::DefinitionBatch read_back;
  FUZZ_CHECK(JsonStringToMessage(printed, &read_back).ok());
  FUZZ_CHECK(MessageDifferencer::Equals(snapshot, read_back));
  absl::StatusOr<strata::Definitions> restored =
      strata::Definitions().WithBatch(read_back);
  FUZZ_CHECK(restored.ok());
  FUZZ_CHECK(restored->unit_count() == definitions->unit_count());
  FUZZ_CHECK(restored->kpi_count() == definitions->kpi_count());
  FUZZ_CHECK(restored->ToBatch().changes_size() == snapshot.changes_size());
  return 0;
}
