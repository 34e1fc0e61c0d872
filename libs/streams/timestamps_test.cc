#include "libs/streams/timestamps.h"

#include "gtest/gtest.h"

namespace strata {
namespace {

TEST(TimestampsTest, KeepsNanosecondsOnBothSidesOf1970) {
  const absl::Time before = absl::FromUnixSeconds(-1) + absl::Nanoseconds(5);
  const google::protobuf::Timestamp t = ToTimestamp(before);
  EXPECT_EQ(t.seconds(), -1);
  EXPECT_EQ(t.nanos(), 5);  // Never negative.
  EXPECT_EQ(FromTimestamp(t), before);
  const absl::Time after =
      absl::FromUnixSeconds(1'790'000'000) + absl::Nanoseconds(123'456'789);
  EXPECT_EQ(FromTimestamp(ToTimestamp(after)), after);
}

TEST(TimestampsTest, TimesOutOfRangeAreClampedNotFatal) {
  // protobuf's TimeUtil aborted the process on these: a Kafka producer
  // may stamp a record with any time.
  EXPECT_FALSE(InTimestampRange(absl::InfiniteFuture()));
  EXPECT_FALSE(
      InTimestampRange(absl::FromUnixSeconds(kMaxTimestampSeconds + 1)));
  EXPECT_TRUE(InTimestampRange(absl::FromUnixSeconds(kMinTimestampSeconds)));
  EXPECT_EQ(ToTimestamp(absl::InfiniteFuture()).seconds(),
            kMaxTimestampSeconds);
  EXPECT_EQ(ToTimestamp(absl::InfiniteFuture()).nanos(), 999'999'999);
  EXPECT_EQ(ToTimestamp(absl::InfinitePast()).seconds(), kMinTimestampSeconds);
  EXPECT_EQ(ToTimestamp(absl::InfinitePast()).nanos(), 0);
}

}  // namespace
}  // namespace strata
