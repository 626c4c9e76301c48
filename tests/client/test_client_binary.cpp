// The real tcp_client executable as a subprocess against an in-process server.
#include <gtest/gtest.h>

#include <regex>

#include "running_server.hpp"
#include "subprocess.hpp"

namespace tcp_server::testing {
namespace {

const std::string kClient = TCP_CLIENT_BINARY;

TEST(ClientBinary, SendExitsZeroAndPrintsTheSummary) {
  RunningServer running(loopback_config());
  const auto result =
      run_to_completion({kClient, "send", "--port", std::to_string(running.endpoint().port()),
                         "--clients", "3", "--message", "客户端{id}正在连接"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("3 clients, 3/3 replies, 0 clients failed"), std::string::npos)
      << result.out;
}

TEST(ClientBinary, BenchJsonIsOneObjectWithTheFigures) {
  ServerConfig config = loopback_config();
  config.log_payloads = false;
  RunningServer running(config);
  const auto result =
      run_to_completion({kClient, "bench", "--port", std::to_string(running.endpoint().port()),
                         "-c", "4", "-d", "200ms", "--json"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(std::regex_search(
      result.out,
      std::regex(R"(^\{"mode":"pingpong".*"replies":[1-9][0-9]*,.*"errors":\{"total":0,)")))
      << result.out;
  EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 1);
}

TEST(ClientBinary, UnknownCommandIsOneLineAndExitCodeTwo) {
  const auto result = run_to_completion({kClient, "flood"});
  EXPECT_EQ(result.status, 2);
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

}  // namespace
}  // namespace tcp_server::testing
