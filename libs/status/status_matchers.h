#pragma once

// GoogleTest helpers for absl::Status, which Debian's Abseil does not ship.
//
//   EXPECT_OK(log.Append("t", records));
//   EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace strata::testing {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER_P(StatusIs, code, "") {
  const absl::Status& status = ::strata::testing::GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& status = ::strata::testing::GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(status.message()), result_listener);
}

}  // namespace strata::testing

#define EXPECT_OK(expr)                                \
  EXPECT_TRUE(::strata::testing::GetStatus(expr).ok()) \
      << ::strata::testing::GetStatus(expr).ToString()
#define ASSERT_OK(expr)                                \
  ASSERT_TRUE(::strata::testing::GetStatus(expr).ok()) \
      << ::strata::testing::GetStatus(expr).ToString()
