#include "libs/grpcutil/health_client.h"

#include <future>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "libs/grpcutil/status_conversion.h"

namespace strata {

absl::StatusOr<bool> CheckServing(const std::shared_ptr<grpc::Channel>& channel,
                                  absl::Duration timeout) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // HealthCheckRequest{service: ""} encodes to no bytes at all.
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response,
                 [&done](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return absl::InternalError("bad response");
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // HealthCheckResponse{status: SERVING (1)} is field 1, varint 1.
  return bytes == std::string("\x08\x01", 2);
}

absl::Status WaitUntilServing(const std::shared_ptr<grpc::Channel>& channel,
                              absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::UnavailableError("not asked yet");
  while (absl::Now() < deadline) {
    absl::StatusOr<bool> serving = CheckServing(channel, absl::Seconds(1));
    if (serving.ok() && *serving) return absl::OkStatus();
    last = serving.ok() ? absl::UnavailableError("NOT_SERVING")
                        : serving.status();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::UnavailableError(
      absl::StrCat("not serving after ", absl::FormatDuration(timeout), ": ",
                   last.message()));
}

}  // namespace strata
