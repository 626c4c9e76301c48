// The "Testing" options (--delay, --throttle, --close-after, ...) against an in-process server,
// over real sockets on loopback.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "eventually.hpp"
#include "running_server.hpp"
#include "subprocess.hpp"
#include "tcp_server/rules.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What the next read says once the connection ends: 0 for an orderly end (FIN), else errno
// (ECONNRESET for a reset). -1 when nothing ended it within timeout, or bytes came instead.
int how_the_stream_ends(const TestClient& client, std::chrono::milliseconds timeout = 5s) {
  pollfd readable{client.fd(), POLLIN, 0};
  if (::poll(&readable, 1, static_cast<int>(timeout.count())) != 1) return -1;
  char byte = 0;
  const ssize_t n = ::recv(client.fd(), &byte, 1, MSG_DONTWAIT);
  if (n == 0) return 0;
  if (n < 0) return errno;
  return -1;
}

// Message numbers whose reply the log says was dropped, in order.
std::vector<int> dropped_messages(const CapturedLog& log) {
  std::vector<int> numbers;
  const std::regex dropped(R"(message (\d+): reply dropped)");
  for (const auto& line : log.lines_containing("reply dropped")) {
    std::smatch match;
    if (std::regex_search(line, match, dropped)) numbers.push_back(std::stoi(match[1]));
  }
  return numbers;
}

TEST(Delay, EachReplyComesTheDelayAfterItsMessage) {
  ServerConfig config = loopback_config();
  config.testing.delay = 200ms;
  RunningServer running(config);
  TestClient client(running.endpoint());
  for (int i = 0; i < 2; ++i) {
    const auto sent = Clock::now();
    client.send("hello\n");
    EXPECT_EQ(client.read_line(), "ok\n");
    EXPECT_GE(Clock::now() - sent, 190ms);
  }
}

TEST(Delay, FiftyClientsAreDelayedAtTheSameTimeNotOneAfterAnother) {
  ServerConfig config = loopback_config();
  config.testing.delay = 200ms;
  RunningServer running(config);
  constexpr int kClients = 50;
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<TestClient>(running.endpoint()));
  }
  const auto start = Clock::now();
  for (auto& client : clients) client->send("hello\n");
  for (auto& client : clients) EXPECT_EQ(client->read_line(), "ok\n");
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 190ms);
  // One after another would take 50 x 200 ms = 10 s; side by side about 200 ms (a loaded
  // machine, or a sanitizer, adds to that).
  EXPECT_LT(elapsed, 5s);
}

TEST(Delay, TheDrainWakesADelayedReplyInsteadOfWaitingItOut) {
  ServerConfig config = loopback_config();
  config.testing.delay = 60s;
  config.drain_timeout = 30s;
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send("hello\n");
  ASSERT_TRUE(running.log().wait_for(" hello"));
  const auto start = Clock::now();
  running.stop_and_join();
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_EQ(client.read_line(), "ok\n") << "the message in progress is still answered";
}

TEST(Delay, JitterKeepsEachReplyWithinDelayPlusJitter) {
  ServerConfig config = loopback_config();
  config.testing.delay = 50ms;
  config.testing.jitter = 100ms;
  RunningServer running(config);
  TestClient client(running.endpoint());
  for (int i = 0; i < 5; ++i) {
    const auto sent = Clock::now();
    client.send("x\n");
    EXPECT_EQ(client.read_line(), "ok\n");
    const auto elapsed = Clock::now() - sent;
    EXPECT_GE(elapsed, 45ms);
    EXPECT_LT(elapsed, 2s);
  }
  EXPECT_TRUE(running.log().wait_for("random choices seeded with"));
}

TEST(Throttle, AnEchoComesBackNoFasterThanTheRateInSmallPieces) {
  ServerConfig config = loopback_config();
  config.mode = ReplyMode::kEcho;
  config.testing.throttle_bytes_per_second = 2048;
  RunningServer running(config);
  TestClient client(running.endpoint());
  const std::string payload(6 * 1024, 'x');
  const auto start = Clock::now();
  client.send(payload);
  // 102-byte pieces, 20 a second: the first second brings far less than the whole.
  std::string echoed = client.read_available(1s);
  EXPECT_LT(echoed.size(), 4096u);
  while (echoed.size() < payload.size() && Clock::now() - start < 20s) {
    const std::string piece = client.read_available(300ms);
    ASSERT_FALSE(piece.empty()) << "stalled after " << echoed.size() << " bytes";
    echoed += piece;
  }
  EXPECT_EQ(echoed, payload);
  const auto elapsed = Clock::now() - start;
  // The first piece goes at once; the rest, about 6 KiB, at 2 KiB/s: about 3 s.
  EXPECT_GE(elapsed, 2500ms);
  EXPECT_LT(elapsed, 8s);
}

TEST(Throttle, TheDrainDeadlineCutsAThrottledReplyShort) {
  ServerConfig config = loopback_config();
  config.mode = ReplyMode::kEcho;
  config.testing.throttle_bytes_per_second = 100;
  config.drain_timeout = 200ms;
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send(std::string(10'000, 'x'));  // 100 s at this rate
  ASSERT_FALSE(client.read_available(2s).empty());
  const auto start = Clock::now();
  running.stop_and_join();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_TRUE(running.log().wait_for("(shutdown"));
}

TEST(CloseAfter, TheClientReadsThreeRepliesThenTheEnd) {
  ServerConfig config = loopback_config();
  config.testing.close_after = 3;
  RunningServer running(config);
  TestClient client(running.endpoint());
  for (int i = 0; i < 3; ++i) {
    client.send("hi\n");
    EXPECT_EQ(client.read_line(), "ok\n");
  }
  EXPECT_EQ(how_the_stream_ends(client), 0) << "FIN, not a reset";
  EXPECT_TRUE(running.log().wait_for("(shutdown: closed after the last reply (--close-after))"));
}

TEST(ResetAfter, TheClientsNextReadAfterThreeRepliesIsAReset) {
  ServerConfig config = loopback_config();
  config.testing.reset_after = 3;
  RunningServer running(config);
  TestClient client(running.endpoint());
  for (int i = 0; i < 3; ++i) {
    client.send("hi\n");
    EXPECT_EQ(client.read_line(), "ok\n");
  }
  EXPECT_EQ(how_the_stream_ends(client), ECONNRESET);
  EXPECT_TRUE(running.log().wait_for("(reset: reset after the last reply (--reset-after))"));
}

TEST(MaxLifetime, AnIdleClientIsClosedNearTheLifetimeWithItsOwnReason) {
  ServerConfig config = loopback_config();
  config.testing.max_lifetime = 1s;
  RunningServer running(config);
  const auto start = Clock::now();
  TestClient client(running.endpoint());
  EXPECT_EQ(how_the_stream_ends(client, 5s), 0);
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_TRUE(running.log().wait_for("(max lifetime: open for 1.0 s)"));
}

TEST(MaxLifetime, CutsADelayedReplyShortToo) {
  ServerConfig config = loopback_config();
  config.testing.max_lifetime = 500ms;
  config.testing.delay = 60s;
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send("hello\n");
  EXPECT_NE(how_the_stream_ends(client, 5s), -1);
  EXPECT_TRUE(running.log().wait_for("(max lifetime"));
}

TEST(DropRate, TheSameSeedDropsTheSameMessagesOnEveryRun) {
  std::vector<std::vector<int>> runs;
  for (int run = 0; run < 2; ++run) {
    ServerConfig config = loopback_config();
    config.testing.drop_rate = 0.5;
    config.testing.seed = 7;
    RunningServer running(config);
    TestClient client(running.endpoint());
    std::string lines;
    for (int i = 1; i <= 40; ++i) lines += std::to_string(i) + "\n";
    client.send(lines);
    client.shutdown_write();
    EXPECT_TRUE(client.wait_for_close());
    ASSERT_TRUE(running.log().wait_for("disconnected"));
    EXPECT_TRUE(running.log().wait_for("random choices seeded with 7"));
    runs.push_back(dropped_messages(running.log()));
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_GT(runs[0].size(), 5u);
  EXPECT_LT(runs[0].size(), 35u);
}

TEST(DropRate, DroppedMessagesGetNoReplyAndTheOthersDo) {
  ServerConfig config = loopback_config();
  config.testing.drop_rate = 0.5;
  config.testing.seed = 7;
  config.reply = "ok";
  RunningServer running(config);
  TestClient client(running.endpoint());
  std::string lines;
  for (int i = 1; i <= 40; ++i) lines += std::to_string(i) + "\n";
  client.send(lines);
  client.shutdown_write();
  std::string replies;
  while (true) {
    const std::string piece = client.read_available(5s);
    if (piece.empty()) break;
    replies += piece;
  }
  ASSERT_TRUE(running.log().wait_for("disconnected"));
  const auto dropped = dropped_messages(running.log());
  EXPECT_EQ(static_cast<std::size_t>(std::count(replies.begin(), replies.end(), '\n')),
            40 - dropped.size());
}

TEST(ResetRate, EveryConnectionIsResetAtOnceWithRateOne) {
  ServerConfig config = loopback_config();
  config.testing.reset_rate = 1;
  RunningServer running(config);
  for (int i = 0; i < 3; ++i) {
    // The reset may come before connect_to() has seen the connection established: it then
    // reports the reset itself.
    try {
      TestClient client(running.endpoint());
      EXPECT_EQ(how_the_stream_ends(client), ECONNRESET);
    } catch (const std::runtime_error& error) {
      EXPECT_NE(std::string(error.what()).find("Connection reset by peer"), std::string::npos)
          << error.what();
    }
  }
  EXPECT_TRUE(running.log().wait_for("(reset: reset on accept (--reset-rate))", 3));
}

TEST(Banner, ArrivesBeforeTheClientSaysAnything) {
  ServerConfig config = loopback_config();
  config.testing.banner = "220 ready\r\n";
  RunningServer running(config);
  TestClient client(running.endpoint());
  EXPECT_EQ(client.read_line(), "220 ready\r\n");
  client.send("HELO me\n");
  EXPECT_EQ(client.read_line(), "ok\n");
}

TEST(ReplyFile, TheReplyIsTheFilesBytesExactly) {
  ServerConfig config = loopback_config();
  const std::string bytes("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n\x00\xff", 40);
  config.reply = bytes;
  config.testing.reply_verbatim = true;
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send("GET / HTTP/1.0\n");
  EXPECT_EQ(client.read_exactly(bytes.size()), bytes);
  client.send("again\n");
  EXPECT_EQ(client.read_exactly(bytes.size()), bytes) << "no newline was added in between";
}

TEST(Rules, APingGetQuitScriptOverARealSocket) {
  ServerConfig config = loopback_config();
  config.reply = "ERR unknown";
  config.testing.rules = std::make_shared<const RuleSet>(
      RuleSet::parse("# a PING/GET/QUIT script\n"
                     "PING      => PONG\n"
                     "GET (\\w+) => VALUE $1 (message ${n} from ${peer})\n"
                     "SLOW      => !delay 200ms later\n"
                     "QUIT      => !close BYE\n",
                     "ping.rules", config.encoding));
  RunningServer running(config);
  TestClient client(running.endpoint());
  const std::string peer = client.local().to_string();
  client.send("PING\n");
  EXPECT_EQ(client.read_line(), "PONG\n");
  client.send("GET color\n");
  EXPECT_EQ(client.read_line(), "VALUE color (message 2 from " + peer + ")\n");
  client.send("what?\n");
  EXPECT_EQ(client.read_line(), "ERR unknown\n") << "no rule matched: --reply";
  const auto sent = Clock::now();
  client.send("SLOW\n");
  EXPECT_EQ(client.read_line(), "later\n");
  EXPECT_GE(Clock::now() - sent, 190ms);
  client.send("QUIT\n");
  EXPECT_EQ(client.read_line(), "BYE\n");
  EXPECT_EQ(how_the_stream_ends(client), 0);
  EXPECT_TRUE(running.log().wait_for("(shutdown: closed by a rule (!close))"));
}

TEST(Rules, ResetAndSilentRulesAndTheTestingOptionsOnTop) {
  ServerConfig config = loopback_config();
  config.testing.close_after = 2;
  config.testing.rules = std::make_shared<const RuleSet>(
      RuleSet::parse("NOOP => !silent\nBOOM => !reset\n", "r.rules", config.encoding));
  {
    RunningServer running(config);
    TestClient client(running.endpoint());
    client.send("NOOP\nhello\n");
    EXPECT_EQ(client.read_line(), "ok\n") << "the silent rule sent nothing";
    client.send("hello\n");
    EXPECT_EQ(client.read_line(), "ok\n");
    EXPECT_EQ(how_the_stream_ends(client), 0) << "--close-after counts rule replies too";
  }
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send("BOOM\n");
  EXPECT_EQ(how_the_stream_ends(client), ECONNRESET);
}

// Real programs no one here wrote, against the real binary.

const std::string kBinary = TCP_SERVER_BINARY;

TEST(TestingWithRealClients, NcatReceivesTheBannerAndIsClosedAtTheMaxLifetime) {
  if (::access("/usr/bin/ncat", X_OK) != 0) GTEST_SKIP() << "ncat is not installed";
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0", "--banner", "220 ready\\r\\n",
                     "--max-lifetime", "500ms"});
  const std::string port = std::to_string(announced_port(server));
  Subprocess ncat({"/usr/bin/ncat", "--recv-only", "127.0.0.1", port});
  EXPECT_EQ(ncat.wait_for_exit(10s), 0) << ncat.stderr_text();
  EXPECT_EQ(ncat.stdout_text(), "220 ready\r\n");
  EXPECT_TRUE(server.wait_for_stdout_line("(max lifetime: open for 0.500 s)", 10s))
      << server.stdout_text();
}

TEST(TestingWithRealClients, CurlGetsTheCannedHttpResponseOfAReplyFile) {
  if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl is not installed";
  const std::string path = ::testing::TempDir() + "canned_" + std::to_string(::getpid()) + ".http";
  {
    std::ofstream file(path, std::ios::binary);
    file << "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
            "Connection: close\r\n\r\ncanned";
  }
  // The request's first line gets the response, then the connection closes (a curl that
  // finished reading may already have closed its end: no matter which comes first).
  Subprocess server(
      {kBinary, "--host", "127.0.0.1", "--port", "0", "--reply-file", path, "--close-after", "1"});
  const std::string port = std::to_string(announced_port(server));
  Subprocess curl({"/usr/bin/curl", "--silent", "--show-error", "--max-time", "10",
                   "http://127.0.0.1:" + port + "/"});
  EXPECT_EQ(curl.wait_for_exit(15s), 0) << curl.stderr_text();
  EXPECT_EQ(curl.stdout_text(), "canned");
  std::remove(path.c_str());
}

TEST(TestingWithRealClients, BadRulesFileIsRefusedInOneLineWithFileAndLine) {
  const std::string path = ::testing::TempDir() + "bad_" + std::to_string(::getpid()) + ".rules";
  {
    std::ofstream file(path);
    file << "PING => PONG\n(unclosed => x\n";
  }
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0", "--rules", path});
  EXPECT_EQ(server.wait_for_exit(10s), 2);
  const std::string err = server.stderr_text();
  EXPECT_NE(err.find("--rules " + path + ":2: "), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace tcp_server::testing
