#pragma once

// Calls from one instance of a scaled-out strata-rollup to the others
// (RollupPeerService): their stubs, all calls of a request sent at once,
// and what a failed call means to the query that made it.
//
//   std::vector<PeerCall<v1::ReadCellsRequest, v1::ReadCellsResponse>> calls;
//   ...
//   SendAll(stubs, calls, absl::Seconds(10), &Stub::async_interface::ReadCells);

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "strata/v1/rollup_peer_service.grpc.pb.h"

namespace strata::rollup {

// Where an instance of this process is reached: its in-process server.
std::string InProcessPeerAddress(int instance);

// The stub of each instance called: another process's made on first
// use, one of this process's added before. Thread-safe.
class PeerStubs {
 public:
  // Null for an in-process address not added (an instance of an earlier
  // run of the process, whose claims the directory still holds).
  v1::RollupPeerService::Stub* For(const std::string& address);
  // Reaches the instance at `address` through `channel`; before any
  // call (a stub handed out is never replaced).
  absl::Status AddInProcess(const std::string& address,
                            std::shared_ptr<grpc::Channel> channel);

 private:
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<v1::RollupPeerService::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
};

// One call to the instance at `address`.
template <typename Request, typename Response>
struct PeerCall {
  std::string address;
  Request request;
  Response response;
  grpc::Status status;
};

// Sends every call at once, each bounded by `timeout`, and returns once
// all are answered. `method`: the RPC's member of the async interface.
template <typename Request, typename Response>
void SendAll(PeerStubs& stubs, std::vector<PeerCall<Request, Response>>& calls,
             absl::Duration timeout,
             void (v1::RollupPeerService::Stub::async_interface::*method)(
                 grpc::ClientContext*, const Request*, Response*,
                 std::function<void(grpc::Status)>)) {
  if (calls.empty()) return;
  std::vector<grpc::ClientContext> contexts(calls.size());
  absl::BlockingCounter answered(static_cast<int>(calls.size()));
  for (size_t i = 0; i < calls.size(); ++i) {
    PeerCall<Request, Response>& call = calls[i];
    contexts[i].set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::RollupPeerService::Stub* stub = stubs.For(call.address);
    if (stub == nullptr) {
      call.status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "no such instance in this process");
      answered.DecrementCount();
      continue;
    }
    (stub->async()->*method)(
        &contexts[i], &call.request, &call.response,
        [&call, &answered](grpc::Status status) {
          call.status = std::move(status);
          answered.DecrementCount();
        });
  }
  answered.Wait();
}

// What the caller answers for a call that failed with `status`: an
// instance down, between owners or not upgraded yet passes (UNAVAILABLE);
// damage there stays damage; anything else is a fault between the
// instances (INTERNAL), not the caller's. `what` names what was asked.
absl::Status PeerFailure(const std::string& address, absl::string_view what,
                         const grpc::Status& status);

}  // namespace strata::rollup
