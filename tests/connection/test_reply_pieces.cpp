// How a Connection sends a burst of acks: in pieces of bounded size, not all at once. The
// connection runs over an AF_UNIX SOCK_SEQPACKET pair, which keeps the boundary of every send():
// each recv() here returns exactly one send() of the connection's, so the test sees its pieces.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <string>

#include "served_connection.hpp"

namespace tcp_server::testing {
namespace {

void send_record(int fd, const std::string& record) {
  ASSERT_EQ(::send(fd, record.data(), record.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(record.size()));
}

TEST(ConnectionReplies, AnAckBurstIsSentInPiecesOfAtMostSixteenKiB) {
  std::array<int, 2> fds{};
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds.data()), 0);
  UniqueFd ours(fds[1]);
  ServerConfig config;
  config.log_payloads = false;
  ServedConnection served(config, UniqueFd(fds[0]), *Endpoint::from_ip("127.0.0.1", 40000));

  // Both are queued before the connection reads: the first fills its 1 KiB stack buffer, which
  // earns it the 16 KiB one, so the second arrives whole: 16384 messages in one read.
  constexpr std::size_t kFirst = 1024;
  constexpr std::size_t kSecond = 16 * 1024;
  send_record(ours.get(), std::string(kFirst, '\n'));
  send_record(ours.get(), std::string(kSecond, '\n'));
  served.start();

  const std::size_t expected = (kFirst + kSecond) * 3;  // "ok\n" each
  std::size_t received = 0;
  std::size_t largest = 0;
  std::string piece(256 * 1024, '\0');
  while (received < expected) {
    pollfd readable{ours.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&readable, 1, static_cast<int>(kIoTimeout.count())), 1)
        << "timed out after " << received << " of " << expected << " bytes";
    const ssize_t got = ::recv(ours.get(), piece.data(), piece.size(), 0);
    ASSERT_GT(got, 0) << "closed after " << received << " of " << expected << " bytes";
    received += static_cast<std::size_t>(got);
    largest = std::max(largest, static_cast<std::size_t>(got));
  }
  EXPECT_EQ(received, expected);
  EXPECT_LE(largest, 16u * 1024 + 3) << "the largest send() carried " << largest / 3 << " acks";
  ours.reset();
  EXPECT_TRUE(served.wait_until_done());
}

}  // namespace
}  // namespace tcp_server::testing
