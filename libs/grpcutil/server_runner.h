#pragma once

// Starts a gRPC server with the standard health-checking service and server
// reflection. Health reports NOT_SERVING until SetServing(true), so a load
// balancer or Kubernetes probe waits until dependencies are ready.
//
//   ServerRunner server;
//   ASSIGN_OR_RETURN(int port, server.Start("0.0.0.0:7400", {&ingest,
//   &admin})); server.SetServing(true); server.Wait();

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"

namespace grpc {
class Service;
}

namespace strata {

class ServerRunner {
 public:
  ~ServerRunner();

  // Binds `address` ("host:port", port 0 picks a free one) and returns the
  // bound port.
  absl::StatusOr<int> Start(const std::string& address,
                            const std::vector<grpc::Service*>& services);
  void SetServing(bool serving);
  // A channel to this server's own services without a socket; null before
  // Start() succeeded.
  std::shared_ptr<grpc::Channel> InProcessChannel();
  void Wait();
  // Stops accepting calls and waits up to `grace` for running ones.
  void Shutdown(absl::Duration grace);

 private:
  std::unique_ptr<grpc::Server> server_;
  std::atomic<bool> shut_down_{false};
};

}  // namespace strata
