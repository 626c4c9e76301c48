#include "tcp_server/systemd.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace tcp_server {
namespace {

TEST(ParseListenFds, CountsOnlySocketsMeantForThisProcess) {
  EXPECT_EQ(parse_listen_fds("42", "1", 42), 1);
  EXPECT_EQ(parse_listen_fds("42", "3", 42), 3);
  EXPECT_EQ(parse_listen_fds("41", "1", 42), 0);  // inherited from a parent, not for us
  EXPECT_EQ(parse_listen_fds(nullptr, "1", 42), 0);
  EXPECT_EQ(parse_listen_fds("42", nullptr, 42), 0);
}

TEST(ParseListenFds, MalformedValuesAreErrors) {
  EXPECT_THROW(parse_listen_fds("4x", "1", 4), std::invalid_argument);
  EXPECT_THROW(parse_listen_fds("4", "-1", 4), std::invalid_argument);
  EXPECT_THROW(parse_listen_fds("4", "", 4), std::invalid_argument);
}

TEST(SystemdNotifier, DisabledWithoutASocket) {
  const SystemdNotifier notifier;
  EXPECT_FALSE(notifier.enabled());
  EXPECT_FALSE(notifier.notify("READY=1"));
}

TEST(SystemdNotifier, SendsOneDatagramToAnAbstractSocket) {
  const std::string name = "tcp_server_test_notify_" + std::to_string(::getpid());
  UniqueFd receiver(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  ASSERT_EQ(::bind(receiver.get(), reinterpret_cast<sockaddr*>(&address),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())),
            0);
  const SystemdNotifier notifier("@" + name);
  ASSERT_TRUE(notifier.enabled());
  ASSERT_TRUE(notifier.notify("READY=1\nSTATUS=listening"));
  char buffer[128] = {};
  const ssize_t n = ::recv(receiver.get(), buffer, sizeof buffer, MSG_DONTWAIT);
  EXPECT_EQ(std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0),
            "READY=1\nSTATUS=listening");
}

}  // namespace
}  // namespace tcp_server
