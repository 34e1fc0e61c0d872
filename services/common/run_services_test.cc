#include <atomic>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "libs/grpcutil/service_module.h"
#include "libs/status/status_matchers.h"
#include "services/common/process.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

// A module that, as it is destroyed, tries to reach its process's server:
// it gets through only while the server still takes calls, which might
// then reach a module already gone.
class ProbeModule final : public ServiceModule {
 public:
  ProbeModule(std::function<int()> port, std::atomic<bool>* reached,
              std::atomic<bool>* destroyed)
      : port_(std::move(port)), reached_(reached), destroyed_(destroyed) {}
  ~ProbeModule() override {
    const int port = port_();
    if (port != 0) {
      auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                         grpc::InsecureChannelCredentials());
      *reached_ = channel->WaitForConnected(
          absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    }
    *destroyed_ = true;
  }
  std::string name() const override { return "probe"; }
  std::vector<grpc::Service*> services() override { return {}; }

 private:
  const std::function<int()> port_;
  std::atomic<bool>* const reached_;
  std::atomic<bool>* const destroyed_;
};

// Found by review: a server whose start failed after it listened (here the
// ready step) destroyed its modules while the server still took calls.
TEST(RunServicesTest, AServerThatFailsToStartStopsServingBeforeItsModulesGo) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      absl::StrCat("strata_run_services_", getpid());
  std::filesystem::remove_all(dir);
  ServerOptions options;
  options.data_dir = dir.string();
  std::atomic<bool> reached{false};
  std::atomic<bool> destroyed{false};
  const ModuleFactory probe = [&](const ModuleContext& context)
      -> absl::StatusOr<std::unique_ptr<ServiceModule>> {
    return std::make_unique<ProbeModule>(context.port, &reached, &destroyed);
  };
  const absl::Status run = RunServices(
      "probe", options, "127.0.0.1:0", {probe},
      [](const ModuleContext&) { return absl::InternalError("ready failed"); });
  EXPECT_THAT(run, StatusIs(absl::StatusCode::kInternal,
                            HasSubstr("ready failed")));
  EXPECT_TRUE(destroyed);
  EXPECT_FALSE(reached)
      << "the server still took calls while its modules were destroyed";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata
