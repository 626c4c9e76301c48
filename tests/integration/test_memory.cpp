// A burst through the whole server: long lines and thousands of empty ones in one stream, which
// the framer cuts where they lie in the receive buffer, holding only unfinished lines, and whose
// acks go out in pieces. What it costs in memory is measured by bench/burst_memory.py; the
// bounds on what a connection holds are tested in tests/unit/test_framing.cpp and
// tests/connection/test_reply_pieces.cpp.
#include <gtest/gtest.h>

#include <string>

#include "running_server.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

TEST(Burst, TwoLongLinesAndSixteenKiBOfEmptyLinesAreEachAnsweredOnceThenTheNextMessageToo) {
  ServerConfig config = loopback_config();
  config.log_payloads = false;
  RunningServer running(config);
  TestClient client(running.endpoint());
  constexpr std::size_t kEmptyLines = 16 * 1024;
  // The first line arrives in parts, the last of them with the second line and the empty ones.
  client.send(std::string(60'000, 'a'));
  client.send(std::string(10'000, 'a') + "\n" + std::string(70'000, 'b') + "\n" +
              std::string(kEmptyLines, '\n'));
  std::string acks;
  for (std::size_t i = 0; i < kEmptyLines + 2; ++i) acks += "ok\n";
  EXPECT_EQ(client.read_exactly(acks.size()), acks);
  EXPECT_EQ(client.read_available(std::chrono::milliseconds(0)), "");
  client.send("after\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_EQ(running.server().stats().messages, kEmptyLines + 3);
}

}  // namespace
}  // namespace tcp_server::testing
