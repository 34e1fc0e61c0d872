#include "services/rollup/peer_calls.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "libs/grpcutil/status_conversion.h"

namespace strata::rollup {

namespace {
constexpr absl::string_view kInProcess = "in-process:";
}  // namespace

std::string InProcessPeerAddress(int instance) {
  return absl::StrCat(kInProcess, instance);
}

v1::RollupPeerService::Stub* PeerStubs::For(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto it = stubs_.find(address);
  if (it != stubs_.end()) return it->second.get();
  if (absl::StartsWith(address, kInProcess)) return nullptr;
  return (stubs_[address] = v1::RollupPeerService::NewStub(grpc::CreateChannel(
              address, grpc::InsecureChannelCredentials())))
      .get();
}

absl::Status PeerStubs::AddInProcess(const std::string& address,
                                     std::shared_ptr<grpc::Channel> channel) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<v1::RollupPeerService::Stub>& stub = stubs_[address];
  if (stub != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("rollup: an instance is already reached at ", address));
  }
  stub = v1::RollupPeerService::NewStub(std::move(channel));
  return absl::OkStatus();
}

absl::Status PeerFailure(const std::string& address, absl::string_view what,
                         const grpc::Status& status) {
  const absl::Status failed = FromGrpcStatus(status);
  absl::StatusCode code = absl::StatusCode::kInternal;
  switch (failed.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kUnimplemented:
      code = absl::StatusCode::kUnavailable;
      break;
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      code = failed.code();
      break;
    default:
      break;
  }
  return absl::Status(
      code, absl::StrCat("rollup: the instance at ", address, ", asked for ",
                         what, ", answered ",
                         absl::StatusCodeToString(failed.code()), ": ",
                         failed.message()));
}

}  // namespace strata::rollup
