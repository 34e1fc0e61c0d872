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

// Each evaluates `expr` once (a failing side-effecting call is not run
// again to print its status) and takes a streamed message after it.
#define STRATA_OK_IMPL_(expr, fail)                                     \
  switch (0)                                                            \
  case 0:                                                               \
  default:                                                              \
    if (const ::absl::Status strata_ok_status_ =                        \
            ::strata::testing::GetStatus(expr);                         \
        strata_ok_status_.ok()) {                                       \
    } else                                                              \
      fail() << strata_ok_status_.ToString()
#define EXPECT_OK(expr) STRATA_OK_IMPL_(expr, ADD_FAILURE)
#define ASSERT_OK(expr) STRATA_OK_IMPL_(expr, FAIL)
