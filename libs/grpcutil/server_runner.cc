#include "libs/grpcutil/server_runner.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace strata {

ServerRunner::~ServerRunner() {
  Shutdown(absl::Seconds(1));
  server_.reset();
}

absl::StatusOr<int> ServerRunner::Start(
    const std::string& address, const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(64 << 20);
  for (grpc::Service* service : services) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  SetServing(false);
  return port;
}

void ServerRunner::SetServing(bool serving) {
  if (server_ != nullptr && server_->GetHealthCheckService() != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(serving);
  }
}

std::shared_ptr<grpc::Channel> ServerRunner::InProcessChannel() {
  if (server_ == nullptr) return nullptr;
  return server_->InProcessChannel(grpc::ChannelArguments());
}

void ServerRunner::Wait() {
  if (server_ != nullptr) server_->Wait();
}

void ServerRunner::Shutdown(absl::Duration grace) {
  if (server_ == nullptr || shut_down_.exchange(true)) return;
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

}  // namespace strata
