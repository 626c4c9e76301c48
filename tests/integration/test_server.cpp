// The server end to end, in process: real sockets on loopback, kernel-chosen ports, every wait
// bounded (TestClient throws on timeout; the log is waited on, never slept on).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "eventually.hpp"
#include "running_server.hpp"
#include "tcp_server/socket.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

std::string peer_prefix(const TestClient& client) {
  return client.local().to_string() + " ";
}

TEST(Server, AnswersOkToOneLineAndLogsItWithThePeerAddress) {
  RunningServer running(loopback_config());
  TestClient client(running.endpoint());
  client.send("hello\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_TRUE(running.log().wait_for(peer_prefix(client) + "hello"));
  EXPECT_FALSE(running.log().lines_containing(client.local().to_string() + " connected").empty());
}

TEST(Server, TutorialClientTwoPointOhThreeConcurrentClientsJoined) {
  RunningServer running(loopback_config());
  std::vector<std::string> replies(3);
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] {
      TestClient client(running.endpoint());
      client.send("客户端" + std::to_string(i) + "正在连接\n");
      replies[i] = client.read_line();
    });
  }
  for (auto& client : clients) client.join();
  for (const auto& reply : replies) EXPECT_EQ(reply, "ok\n");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(running.log().wait_for("客户端" + std::to_string(i) + "正在连接"));
  }
}

TEST(Server, TwoHundredClientsTwentyMessagesEachEveryReplyChecked) {
  ServerConfig config = loopback_config();
  config.mode = ReplyMode::kEcho;
  RunningServer running(config);
  constexpr int kClients = 200;
  constexpr int kMessages = 20;
  std::atomic<int> good{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      try {
        TestClient client(running.endpoint());
        for (int n = 0; n < kMessages; ++n) {
          const std::string line =
              "client " + std::to_string(i) + " message " + std::to_string(n) + "\n";
          client.send(line);
          if (client.read_line() != line) throw std::runtime_error("wrong echo for " + line);
          good.fetch_add(1);
        }
      } catch (const std::exception& error) {
        failures[i] = error.what();
      }
    });
  }
  for (auto& client : clients) client.join();
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(failures[i], "") << "client " << i;
  EXPECT_EQ(good.load(), kClients * kMessages);
  EXPECT_TRUE(running.log().wait_for("disconnected", kClients));
  EXPECT_EQ(running.server().stats().messages, std::uint64_t{kClients * kMessages});
}

TEST(Server, ZeroLengthReadClosesTheConnectionAndActiveReturnsToZero) {
  RunningServer running(loopback_config());
  {
    TestClient client(running.endpoint());
    client.send("one\ntwo\n");
    EXPECT_EQ(client.read_exactly(6), "ok\nok\n");
    EXPECT_EQ(running.server().stats().active, 1u);
    client.shutdown_write();
    EXPECT_TRUE(client.wait_for_close());
  }
  ASSERT_TRUE(running.log().wait_for("disconnected"));
  const auto lines = running.log().lines_containing("disconnected");
  EXPECT_NE(lines[0].find("2 messages, 8 bytes in (peer closed)"), std::string::npos) << lines[0];
  EXPECT_TRUE(eventually([&] { return running.server().stats().active == 0; }));
}

TEST(Server, ThreeLinesInOneWriteGetThreeAcks) {
  RunningServer running(loopback_config());
  TestClient client(running.endpoint());
  client.send("a\nb\nc\n");
  EXPECT_EQ(client.read_exactly(9), "ok\nok\nok\n");
  EXPECT_EQ(client.read_available(50ms), "");
}

TEST(Server, LineSplitOverManyWritesGetsOneAck) {
  RunningServer running(loopback_config());
  TestClient client(running.endpoint());
  std::uint64_t sent = 0;
  for (const std::string part : {"he", "l", "lo wor", "ld\r"}) {
    client.send(part);
    sent += part.size();
    // One read per part: wait until the server has this part before sending the next.
    ASSERT_TRUE(eventually([&] { return running.server().stats().bytes_in >= sent; }));
  }
  client.send("\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_EQ(client.read_available(50ms), "");  // exactly one ack
  EXPECT_TRUE(running.log().wait_for(peer_prefix(client) + "hello world"));
}

TEST(Server, ReplyTextIsConfigurable) {
  ServerConfig config = loopback_config();
  config.reply = "ok,问题正在处理中...";
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send("你好\n");
  EXPECT_EQ(client.read_line(), "ok,问题正在处理中...\n");
}

TEST(Server, AReplyThatEndsItsOwnLineGetsNoSecondNewline) {
  ServerConfig config = loopback_config();
  config.reply = "+PONG\r\n";
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send("PING\r\nPING\r\n");
  EXPECT_EQ(client.read_exactly(14), "+PONG\r\n+PONG\r\n");
  EXPECT_EQ(client.read_available(std::chrono::milliseconds(50)), "");
}

TEST(Server, ChunkFramingAnswersOncePerReadWithTheBareReply) {
  ServerConfig config = loopback_config();
  config.framing = Framing::kChunk;
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send("no newline here");
  EXPECT_EQ(client.read_exactly(2), "ok");
  client.send("x\n");
  EXPECT_EQ(client.read_exactly(2), "ok");
  EXPECT_TRUE(running.log().wait_for(peer_prefix(client) + "no newline here"));
  EXPECT_TRUE(running.log().wait_for(peer_prefix(client) + "x\\n"));
}

TEST(Server, EchoSendsBackEveryByteValue) {
  ServerConfig config = loopback_config();
  config.mode = ReplyMode::kEcho;
  RunningServer running(config);
  TestClient client(running.endpoint());
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes += static_cast<char>(i);
  client.send(all_bytes);
  EXPECT_EQ(client.read_exactly(all_bytes.size()), all_bytes);
}

TEST(Server, EchoOfOneMebibyteComesBackIntact) {
  ServerConfig config = loopback_config();
  config.mode = ReplyMode::kEcho;
  config.framing = Framing::kChunk;
  config.log_payloads = false;
  RunningServer running(config);
  TestClient client(running.endpoint());
  std::string payload(1 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + i / 251);
  // Write and read concurrently: neither side's buffers can hold a whole MiB.
  std::thread writer([&] { client.send(payload); });
  const std::string echoed = client.read_exactly(payload.size(), 30s);
  writer.join();
  EXPECT_TRUE(echoed == payload);
}

TEST(Server, ControlBytesNeverReachTheLogRaw) {
  RunningServer running(loopback_config());
  TestClient client(running.endpoint());
  client.send("\x1b[31mred\x07\x1b]0;title\x07\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  ASSERT_TRUE(running.log().wait_for(peer_prefix(client) + "\\x1b[31mred"));
  for (const auto& line : running.log().lines()) {
    for (const char c : line) {
      EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << line;
    }
  }
}

TEST(Server, OverlongLineIsAnsweredOnceAndLoggedTruncated) {
  ServerConfig config = loopback_config();
  config.max_line = 1024;
  config.log_payload_max = 16;
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send(std::string(100'000, 'x') + "\nnext\n");
  EXPECT_EQ(client.read_exactly(6), "ok\nok\n");
  ASSERT_TRUE(running.log().wait_for(peer_prefix(client) + "next"));
  const auto truncated = running.log().lines_containing(peer_prefix(client) + "xxxx");
  ASSERT_EQ(truncated.size(), 1u);
  EXPECT_NE(truncated[0].find("(+99984 bytes)"), std::string::npos) << truncated[0];
}

TEST(Server, UnterminatedLastLineIsAnsweredWhenThePeerHalfCloses) {
  RunningServer running(loopback_config());
  TestClient client(running.endpoint());
  client.send("last words");
  client.shutdown_write();
  EXPECT_EQ(client.read_exactly(3), "ok\n");
  EXPECT_TRUE(client.wait_for_close());
  EXPECT_TRUE(running.log().wait_for(peer_prefix(client) + "last words"));
}

TEST(Server, ClientResetEndsOnlyThatConnection) {
  RunningServer running(loopback_config());
  TestClient survivor(running.endpoint());
  {
    TestClient victim(running.endpoint());
    victim.send("bye\n");
    EXPECT_EQ(victim.read_line(), "ok\n");
    victim.reset();
  }
  EXPECT_TRUE(running.log().wait_for("(reset)"));
  survivor.send("still here\n");
  EXPECT_EQ(survivor.read_line(), "ok\n");
}

TEST(Server, ServesIpv6LoopbackWithBracketedAddresses) {
  ServerConfig config = loopback_config();
  config.listen.host = "::1";
  std::unique_ptr<RunningServer> running;
  try {
    running = std::make_unique<RunningServer>(config);
  } catch (const std::system_error& error) {
    GTEST_SKIP() << "no IPv6 loopback here: " << error.what();
  }
  TestClient client(running->endpoint());
  client.send("six\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_TRUE(running->log().wait_for("[::1]:" + std::to_string(client.local().port()) + " six"));
}

TEST(Server, DualStackWildcardLogsIpv4PeersWithoutMappedPrefix) {
  ServerConfig config = loopback_config();
  config.listen.host = "";
  std::unique_ptr<RunningServer> running;
  running = std::make_unique<RunningServer>(config);
  TestClient client(*Endpoint::from_ip("127.0.0.1", running->server().local_endpoint().port()));
  client.send("four\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_TRUE(
      running->log().wait_for("127.0.0.1:" + std::to_string(client.local().port()) + " four"));
  EXPECT_TRUE(running->log().lines_containing("::ffff:").empty());
}

TEST(Server, StopClosesIdleClientsPromptly) {
  RunningServer running(loopback_config());
  TestClient first(running.endpoint());
  TestClient second(running.endpoint());
  first.send("x\n");
  EXPECT_EQ(first.read_line(), "ok\n");
  ASSERT_TRUE(running.log().wait_for("connected", 2));
  running.stop_and_join();
  EXPECT_TRUE(first.wait_for_close(2s));
  EXPECT_TRUE(second.wait_for_close(2s));
  EXPECT_EQ(running.log().lines_containing("(shutdown)").size(), 2u);
  EXPECT_EQ(running.server().stats().active, 0u);
}

TEST(Server, DrainLetsAClientInMidLineFinishItsMessage) {
  ServerConfig config = loopback_config();
  config.drain_timeout = 20s;  // a bound, not a wait: the test ends as soon as the line completes
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send("half a li");
  ASSERT_TRUE(eventually([&] { return running.server().stats().bytes_in >= 9; }));
  std::thread stopper([&] { running.stop_and_join(); });
  ASSERT_TRUE(running.log().wait_for("stopping: no longer accepting"));
  client.send("ne\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_TRUE(client.wait_for_close());
  stopper.join();
  EXPECT_TRUE(running.log().wait_for(peer_prefix(client) + "half a line"));
}

}  // namespace
}  // namespace tcp_server::testing

namespace tcp_server::testing {
namespace {

TEST(JsonLog, EachEventCarriesItsFieldsAndPayloadsAreEscapedTwice) {
  ServerConfig config = loopback_config();
  config.log_format = LogFormat::kJson;
  RunningServer running(config);
  std::string peer;
  {
    TestClient client(running.endpoint());
    peer = client.local().to_string();
    client.send("say \"hi\" \x1b[2J\n");
    EXPECT_EQ(client.read_line(), "ok\n");
  }
  EXPECT_TRUE(running.log().wait_for(R"("event":"connected","conn":1,"peer":")" + peer + "\""));
  EXPECT_TRUE(running.log().wait_for(R"("event":"message","conn":1,"peer":")" + peer +
                                     R"(","payload":"say \"hi\" \\x1b[2J")"));
  EXPECT_TRUE(running.log().wait_for(R"("event":"disconnected","conn":1,"peer":")" + peer));
  EXPECT_TRUE(
      running.log().wait_for(R"("messages":1,"bytes_in":14,"reason":"peer closed","note":"")"));
}

}  // namespace
}  // namespace tcp_server::testing
