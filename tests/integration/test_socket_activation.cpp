// systemd socket activation with the real activator, systemd-socket-activate(1): the server
// serves the listening socket it is handed (fd 3, LISTEN_FDS/LISTEN_PID) instead of binding.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>

#include "eventually.hpp"
#include "free_port.hpp"
#include "subprocess.hpp"
#include "tcp_server/socket.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = TCP_SERVER_BINARY;
const std::string kActivator = "/usr/bin/systemd-socket-activate";

TEST(SocketActivation, ServesTheSocketSystemdSocketActivateHandsIt) {
  ASSERT_EQ(::access(kActivator.c_str(), X_OK), 0)
      << kActivator << " is missing: scripts/setup --test installs Debian's systemd package";
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::uint16_t port = kernel_chosen_free_port();
    ASSERT_NE(port, 0);
    const std::string address = "127.0.0.1:" + std::to_string(port);
    // --port 1 would fail if the server tried to bind: only the inherited socket can work.
    Subprocess activated({kActivator, "--listen", address, kBinary, "--port", "1"});
    const Endpoint endpoint = *Endpoint::from_ip("127.0.0.1", port);
    // The activator listens first and starts the server at the first connection.
    std::unique_ptr<TestClient> client;
    const bool connected = eventually(
        [&] {
          try {
            client = std::make_unique<TestClient>(endpoint, 2s);
            return true;
          } catch (const std::exception&) {
            return activated.wait_for_exit(0ms).has_value();  // stop early if it gave up
          }
        },
        10s);
    if (!client) {
      if (activated.stderr_text().find("Address already in use") != std::string::npos) continue;
      FAIL() << "could not connect to " << address << ": " << activated.stderr_text();
    }
    ASSERT_TRUE(connected);
    client->send("activated\n");
    EXPECT_EQ(client->read_line(), "ok\n");
    const auto listening = activated.wait_for_stdout_line("listening on", 10s);
    ASSERT_TRUE(listening.has_value()) << activated.stderr_text();
    EXPECT_NE(listening->find("listening on " + address + " (inherited socket)"), std::string::npos)
        << *listening;
    EXPECT_TRUE(activated.wait_for_stdout_line(client->local().to_string() + " activated", 10s));
    activated.send_signal(SIGTERM);
    EXPECT_EQ(activated.wait_for_exit(10s), 0) << activated.stderr_text();
    return;
  }
  FAIL() << "no free port after 5 attempts";
}

}  // namespace
}  // namespace tcp_server::testing

namespace tcp_server::testing {
namespace {

// sd_notify(3) as a service manager sees it: a datagram socket named by $NOTIFY_SOCKET gets
// READY=1 once the server listens and STOPPING=1 when it starts draining.
TEST(SystemdNotify, ReadyWhenListeningAndStoppingOnSigterm) {
  UniqueFd notify(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(notify.valid());
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // Abstract namespace (leading NUL, written '@' in $NOTIFY_SOCKET): nothing to clean up.
  const std::string name = "tcp_server_notify_test_" + std::to_string(::getpid());
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  ASSERT_EQ(::bind(notify.get(), reinterpret_cast<sockaddr*>(&address),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())),
            0);
  ::setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1);  // this test process only
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0"});
  ::unsetenv("NOTIFY_SOCKET");
  const std::uint16_t port = announced_port(server);

  const auto next_datagram = [&](std::chrono::milliseconds timeout) -> std::string {
    pollfd waiting{notify.get(), POLLIN, 0};
    if (::poll(&waiting, 1, static_cast<int>(timeout.count())) != 1) return {};
    char buffer[1024];
    const ssize_t size = ::recv(notify.get(), buffer, sizeof buffer, 0);
    return size > 0 ? std::string(buffer, static_cast<std::size_t>(size)) : std::string();
  };
  const std::string ready = next_datagram(10s);
  EXPECT_EQ(ready, "READY=1\nSTATUS=listening on 127.0.0.1:" + std::to_string(port));
  server.send_signal(SIGTERM);
  std::string stopping;
  for (int i = 0; i < 10 && stopping.rfind("STOPPING=1", 0) != 0; ++i)
    stopping = next_datagram(10s);
  EXPECT_EQ(stopping.rfind("STOPPING=1", 0), 0u) << stopping;
  EXPECT_EQ(server.wait_for_exit(10s), 0);
}

}  // namespace
}  // namespace tcp_server::testing
