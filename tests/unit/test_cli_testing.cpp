#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "parse_command_line.hpp"

namespace tcp_server {
namespace {

using testing::parse;
using testing::Parsed;

// One line, naming the option.
void expect_refused(const std::vector<std::string>& args, const std::string& option) {
  const Parsed parsed = parse(args);
  EXPECT_FALSE(parsed.result.options.has_value());
  EXPECT_EQ(parsed.result.exit_code, 2);
  EXPECT_NE(parsed.err.find(option), std::string::npos) << parsed.err;
  EXPECT_EQ(std::count(parsed.err.begin(), parsed.err.end(), '\n'), 1) << parsed.err;
}

TEST(TestingOptions, LandInTheConfig) {
  const Parsed parsed =
      parse({"--delay",       "100ms",       "--jitter",      "50ms", "--throttle",     "10KiB/s",
             "--close-after", "3",           "--reset-after", "20",   "--max-lifetime", "1s",
             "--drop-rate",   "0.1",         "--reset-rate",  "0.25", "--seed",         "7",
             "--banner",      "220 hi\\r\\n"});
  ASSERT_TRUE(parsed.result.options.has_value()) << parsed.err;
  const TestingSettings& testing = parsed.result.options->server.testing;
  EXPECT_EQ(testing.delay, std::chrono::milliseconds(100));
  EXPECT_EQ(testing.jitter, std::chrono::milliseconds(50));
  EXPECT_EQ(testing.throttle_bytes_per_second, 10240u);
  EXPECT_EQ(testing.close_after, 3u);
  EXPECT_EQ(testing.reset_after, 20u);
  EXPECT_EQ(testing.max_lifetime, std::chrono::seconds(1));
  EXPECT_DOUBLE_EQ(testing.drop_rate, 0.1);
  EXPECT_DOUBLE_EQ(testing.reset_rate, 0.25);
  ASSERT_TRUE(testing.seed.has_value());
  EXPECT_EQ(*testing.seed, 7u);
  EXPECT_EQ(testing.banner, "220 hi\r\n");
}

TEST(TestingOptions, DefaultsAreOff) {
  const Parsed parsed = parse({});
  ASSERT_TRUE(parsed.result.options.has_value()) << parsed.err;
  const TestingSettings& testing = parsed.result.options->server.testing;
  EXPECT_FALSE(testing.shapes_responses());
  EXPECT_EQ(testing.throttle_bytes_per_second, 0u);
  EXPECT_EQ(testing.max_lifetime.count(), 0);
  EXPECT_FALSE(testing.seed.has_value());
}

TEST(TestingOptions, ThrottleTakesARateWithOrWithoutPerSecond) {
  for (const auto& [typed, expected] : std::vector<std::pair<std::string, std::uint64_t>>{
           {"512", 512}, {"512/s", 512}, {"1m/s", 1u << 20}, {"2KiB/s", 2048}}) {
    const Parsed parsed = parse({"--throttle", typed});
    ASSERT_TRUE(parsed.result.options.has_value()) << typed << ": " << parsed.err;
    EXPECT_EQ(parsed.result.options->server.testing.throttle_bytes_per_second, expected) << typed;
  }
}

TEST(TestingOptions, BadValuesAreRefusedInOneLineNamingTheOption) {
  expect_refused({"--throttle", "fast"}, "--throttle");
  expect_refused({"--throttle", "0/s"}, "--throttle");
  expect_refused({"--drop-rate", "1.5"}, "--drop-rate");
  expect_refused({"--reset-rate", "-0.1"}, "--reset-rate");
  expect_refused({"--close-after", "0"}, "--close-after");
  expect_refused({"--delay", "soon"}, "--delay");
  expect_refused({"--banner", "\\xZZ"}, "--banner");
  expect_refused({"--seed", "-3"}, "--seed");
}

TEST(TestingOptions, ReplyFileIsTheReplyExactly) {
  const std::string path = ::testing::TempDir() + "reply_file_" + std::to_string(::getpid());
  const std::string bytes("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n\x00\xff!", 42);
  {
    std::ofstream file(path, std::ios::binary);
    file << bytes;
  }
  const Parsed parsed = parse({"--reply-file", path});
  std::remove(path.c_str());
  ASSERT_TRUE(parsed.result.options.has_value()) << parsed.err;
  EXPECT_EQ(parsed.result.options->server.reply, bytes);
  EXPECT_TRUE(parsed.result.options->server.testing.reply_verbatim);
}

TEST(TestingOptions, UnreadableOrEmptyReplyFileIsRefusedNamingIt) {
  expect_refused({"--reply-file", "/nonexistent/reply.bin"}, "/nonexistent/reply.bin");
  expect_refused({"--reply-file", "/dev/null"}, "is empty");
  expect_refused({"--reply-file", "/etc/hostname", "--reply", "x"}, "--reply");
}

}  // namespace
}  // namespace tcp_server
