#include "libs/grpcutil/raw_messages.h"

#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace strata {
namespace {

// Where protobuf's log lines go while this thread parses a request.
thread_local std::string* parse_log = nullptr;
google::protobuf::LogHandler* previous_handler = nullptr;

void CaptureWhileParsing(google::protobuf::LogLevel level, const char* file,
                         int line, const std::string& message) {
  if (parse_log != nullptr) {
    if (!parse_log->empty()) parse_log->append("; ");
    parse_log->append(message);
    return;
  }
  if (previous_handler != nullptr) {
    previous_handler(level, file, line, message);
  }
}

void InstallCaptureOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    previous_handler = google::protobuf::SetLogHandler(&CaptureWhileParsing);
  });
}

}  // namespace

absl::Status ParseRequest(const grpc::ByteBuffer& bytes,
                          google::protobuf::Message& message) {
  InstallCaptureOnce();
  grpc::ByteBuffer copy(bytes);  // Shares the slices.
  std::string reason;
  parse_log = &reason;
  bool parsed = false;
  {
    grpc::ProtoBufferReader reader(&copy);
    parsed = reader.status().ok() && message.ParseFromZeroCopyStream(&reader);
  }
  parse_log = nullptr;
  if (parsed) return absl::OkStatus();
  std::string text = absl::StrCat("request does not parse as ",
                                  message.GetTypeName());
  if (!reason.empty()) absl::StrAppend(&text, " (", reason, ")");
  return absl::InvalidArgumentError(text);
}

grpc::ByteBuffer ToByteBuffer(const google::protobuf::Message& message) {
  const std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace strata
