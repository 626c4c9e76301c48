// The real binary with a log destination that lets it down: a reader that stops reading (a
// paused `less`, a hung log shipper) and a reader that goes away (`| head -1`).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <string>

#include "subprocess.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kBinary = TCP_SERVER_BINARY;

// Sends 300-byte lines and reads the acks until neither moves for a second: the server's log
// buffer is full, the pipe behind it too, and the client's thread waits for room in the log.
// Bounded in bytes (64 MiB) and time (30 s); false when the server never stalled.
bool fill_the_log(TestClient& client) {
  const std::string line = std::string(299, 'x') + "\n";
  std::string chunk;
  for (int i = 0; i < 200; ++i) chunk += line;
  std::size_t sent = 0;
  std::size_t chunk_offset = 0;
  char acks[64 * 1024];
  const auto give_up = Clock::now() + 30s;
  while (sent < (64u << 20) && Clock::now() < give_up) {
    pollfd waiting{client.fd(), POLLIN | POLLOUT, 0};
    if (::poll(&waiting, 1, 1000) == 0) return true;  // a second without progress either way
    if ((waiting.revents & POLLIN) != 0) {
      if (::recv(client.fd(), acks, sizeof acks, MSG_DONTWAIT) <= 0) return false;
    }
    if ((waiting.revents & POLLOUT) != 0) {
      const ssize_t n = ::send(client.fd(), chunk.data() + chunk_offset,
                               chunk.size() - chunk_offset, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN) return false;
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        chunk_offset = (chunk_offset + static_cast<std::size_t>(n)) % chunk.size();
      }
    }
  }
  return false;
}

// True once connecting to port is refused: the server has closed its listener, so it has taken
// its stop signal. Bounded by timeout.
bool listener_closes_within(std::uint16_t port, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    try {
      TestClient probe(*Endpoint::from_ip("127.0.0.1", port), 1s);
    } catch (const std::exception&) {
      return true;
    }
    ::poll(nullptr, 0, 10);  // a connection attempt per 10 ms at most
  }
  return false;
}

// A server whose stdout pipe nobody reads any more, and a client that has filled its log: the
// client's thread now waits for room in the log.
struct ServerWithStalledLog {
  explicit ServerWithStalledLog(const std::string& drain_timeout)
      : server({kBinary, "--host", "127.0.0.1", "--port", "0", "--drain-timeout", drain_timeout},
               {.stdout_after_first_line = StdoutAfterFirstLine::kStopReading}),
        port(announced_port(server)),
        client(*Endpoint::from_ip("127.0.0.1", port)) {}

  Subprocess server;
  std::uint16_t port;
  TestClient client;
};

TEST(LogOutput, StalledStdoutStillLetsSigtermDrainAndExitWithinTheDeadline) {
  ServerWithStalledLog stalled("1s");
  Subprocess& server = stalled.server;
  ASSERT_TRUE(fill_the_log(stalled.client)) << "the server never stopped on its log";

  const auto signalled = Clock::now();
  server.send_signal(SIGTERM);
  // The requirement is --drain-timeout + 1 s; the margin is for sanitizer builds.
  const auto status = server.wait_for_exit(6s);
  const double seconds = std::chrono::duration<double>(Clock::now() - signalled).count();
  ASSERT_TRUE(status.has_value()) << "still running 6 s after SIGTERM with a stalled log";
  std::cerr << "exit " << seconds << " s after SIGTERM with a stalled log\n";
  // The log is incomplete, and says so: how many lines, on stderr.
  EXPECT_EQ(*status, 1);
  EXPECT_NE(server.stderr_text().find("log lines could not be written"), std::string::npos)
      << server.stderr_text();
}

TEST(LogOutput, SecondSignalExitsAtOnceWithAStalledLog) {
  ServerWithStalledLog stalled("60s");
  Subprocess& server = stalled.server;
  ASSERT_TRUE(fill_the_log(stalled.client)) << "the server never stopped on its log";

  server.send_signal(SIGTERM);
  // Two signals sent at once may arrive as one; the second counts only once the first was taken.
  ASSERT_TRUE(listener_closes_within(stalled.port, 5s)) << "SIGTERM did not stop accepting";
  server.send_signal(SIGTERM);
  const auto status = server.wait_for_exit(5s);
  ASSERT_TRUE(status.has_value()) << "a second SIGTERM did not end the server";
  EXPECT_EQ(*status, 1);
  EXPECT_NE(server.stderr_text().find("exiting now"), std::string::npos) << server.stderr_text();
}

TEST(LogOutput, StatsRequestedWhileTheLogIsStalledDoNotKeepSigtermWaiting) {
  ServerWithStalledLog stalled("1s");
  Subprocess& server = stalled.server;
  ASSERT_TRUE(fill_the_log(stalled.client)) << "the server never stopped on its log";

  // main's own lines (here: the counters) must never wait for room in a stalled log, or the
  // signal that follows would not be read.
  server.send_signal(SIGUSR1);
  server.send_signal(SIGTERM);
  const auto status = server.wait_for_exit(6s);
  ASSERT_TRUE(status.has_value())
      << "SIGTERM after SIGUSR1 did not stop a server whose log stalled";
  EXPECT_EQ(*status, 1);
}

TEST(LogOutput, VanishedLogReaderDrainsAndExitsOneInsteadOfDyingBySigpipe) {
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0"},
                    {.stdout_after_first_line = StdoutAfterFirstLine::kClose});
  const std::uint16_t port = announced_port(server);
  // The "connected" line is the first write after the reader went away.
  TestClient client(*Endpoint::from_ip("127.0.0.1", port));
  client.send("hello\n");
  const auto status = server.wait_for_exit(10s);
  ASSERT_TRUE(status.has_value()) << "the server went on without its log";
  EXPECT_EQ(*status, 1) << "128 + 13 would be death by SIGPIPE; stderr: " << server.stderr_text();
  EXPECT_NE(server.stderr_text().find("the log output failed (Broken pipe)"), std::string::npos)
      << server.stderr_text();
  // The server closed the client on its way out rather than leaving it behind.
  EXPECT_TRUE(client.wait_for_close(5s));
}

}  // namespace
}  // namespace tcp_server::testing
