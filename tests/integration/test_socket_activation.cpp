// systemd socket activation with the real activator, systemd-socket-activate(1): the server
// serves the listening socket it is handed (fd 3, LISTEN_FDS/LISTEN_PID) instead of binding.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

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
