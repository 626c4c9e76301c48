#include "tcp_server/duration.hpp"

#include <gtest/gtest.h>

using std::chrono::milliseconds;
using tcp_server::parse_duration;

TEST(ParseDuration, UnitsAndPlainSeconds) {
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("30s"), milliseconds(30'000));
  EXPECT_EQ(parse_duration("2m"), milliseconds(120'000));
  EXPECT_EQ(parse_duration("2min"), milliseconds(120'000));
  EXPECT_EQ(parse_duration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1'500));
  EXPECT_EQ(parse_duration("30"), milliseconds(30'000));
  EXPECT_EQ(parse_duration("0.25"), milliseconds(250));
  EXPECT_EQ(parse_duration("0"), milliseconds(0));
}

TEST(ParseDuration, RejectsMalformedText) {
  for (const char* bad : {"", "s", "-1s", "1.s", ".5", "1x", "1 s", "5sec", "1e3", "ms", "1.2.3",
                          "25h", "99999999999999999999"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}
