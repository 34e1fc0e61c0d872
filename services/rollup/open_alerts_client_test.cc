// OpenAlertsClient when no alerts service answers: it says why, never
// "no alerts". (With one answering: tests/end_to_end_test.cc, both
// deployments.)

#include "services/rollup/open_alerts_client.h"

#include <optional>

#include "absl/synchronization/notification.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

namespace strata::rollup {
namespace {

absl::StatusOr<std::vector<v1::Alert>> FetchFrom(AlertsChannel channel) {
  OpenAlertsClient client(std::move(channel), absl::Milliseconds(500));
  v1::Period period;
  period.set_kind(v1::PERIOD_KIND_MONTH);
  period.set_label("2026-03");
  absl::Notification done;
  std::optional<absl::StatusOr<std::vector<v1::Alert>>> result;
  client.Fetch("team", period,
               [&](absl::StatusOr<std::vector<v1::Alert>> alerts) {
                 result = std::move(alerts);
                 done.Notify();
               });
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  return result.value_or(absl::InternalError("never answered"));
}

TEST(OpenAlertsClientTest, WithoutAnAlertsServiceSaysNoneIsConfigured) {
  auto alerts = FetchFrom(nullptr);
  EXPECT_EQ(alerts.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(alerts.status().message(),
            "no alerts service configured (strata-rollup --alerts_address)");
  // A server not listening yet gives no channel either.
  alerts = FetchFrom([] { return std::shared_ptr<grpc::Channel>(); });
  EXPECT_EQ(alerts.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(OpenAlertsClientTest, AnAlertsServiceThatDoesNotAnswerIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  auto alerts = FetchFrom([channel] { return channel; });
  EXPECT_EQ(alerts.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(alerts.status().message().rfind("alerts service: ", 0), 0u)
      << alerts.status();
}

}  // namespace
}  // namespace strata::rollup
