// Overload and shutdown: fd exhaustion, SIGTERM under load, thousands of connections.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "eventually.hpp"
#include "running_server.hpp"
#include "subprocess.hpp"
#include "tcp_server/socket.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = TCP_SERVER_BINARY;

// CPU seconds (user + system) the process has used so far.
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

TEST(FdExhaustion, ServerNeitherCrashesNorSpinsAndRecoversWhenTheFloodEnds) {
  // A hard fd limit of 64 and a connection limit above it, so accept() itself hits EMFILE.
  Subprocess server(
      {kBinary, "--host", "127.0.0.1", "--port", "0", "--max-connections", "1000", "--quiet"}, 64);
  const Endpoint endpoint = *Endpoint::from_ip("127.0.0.1", announced_port(server));
  std::vector<std::unique_ptr<TestClient>> flood;
  for (int i = 0; i < 120; ++i) flood.push_back(std::make_unique<TestClient>(endpoint));
  ASSERT_TRUE(server.wait_for_stdout_line("accept failed: Too many open files", 10s))
      << server.stdout_text();

  // Out of fds with clients still queued: a spinning accept loop would burn a whole core here.
  const double cpu_before = cpu_seconds(server.pid());
  const auto window_start = std::chrono::steady_clock::now();
  TestClient late(endpoint);  // queued behind the flood
  late.send("x\n");
  EXPECT_EQ(late.read_available(1s), "");  // not served: no fd to accept it with
  const double window =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
  const double used = cpu_seconds(server.pid()) - cpu_before;
  EXPECT_LT(used, window * 0.3) << "server used " << used << " s of CPU in " << window << " s";

  flood.clear();  // the flood ends: every fd comes back
  EXPECT_EQ(late.read_line(20s), "ok\n");
  TestClient fresh(endpoint);
  fresh.send("after the flood\n");
  EXPECT_EQ(fresh.read_line(), "ok\n");
  EXPECT_TRUE(server.wait_for_stdout_line("accept recovered", 10s));
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_for_exit(15s), 0) << server.stderr_text();
}

TEST(GracefulDrain, SigtermUnderLoadExitsZeroAndEveryAckedMessageWasLogged) {
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0", "--drain-timeout", "5s"});
  const Endpoint endpoint = *Endpoint::from_ip("127.0.0.1", announced_port(server));
  constexpr int kClients = 200;
  std::vector<std::vector<std::string>> acked(kClients);
  std::atomic<int> total_acks{0};
  std::atomic<int> clients_talking{0};
  std::atomic<int> failed_connects{0};
  std::mutex connect_error_mutex;
  std::string connect_error;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      std::unique_ptr<TestClient> client;
      try {
        client = std::make_unique<TestClient>(endpoint);
      } catch (const std::exception& error) {
        failed_connects.fetch_add(1);
        const std::lock_guard lock(connect_error_mutex);
        connect_error = error.what();
        return;
      }
      // Talk until the server closes us; bounded by the message count.
      for (int n = 0; n < 100'000; ++n) {
        const std::string message = "c" + std::to_string(i) + "m" + std::to_string(n);
        try {
          client->send(message + "\n");
          if (client->read_line(20s) != "ok\n") return;
        } catch (const std::exception&) {
          return;  // closed by the drain
        }
        acked[i].push_back(message);
        total_acks.fetch_add(1);
        if (n == 0) clients_talking.fetch_add(1);
      }
    });
  }
  // Every client is mid-conversation before the signal; clients still connecting would be
  // refused by the closed listener, which is the drain working, not a failure to measure.
  ASSERT_TRUE(eventually(
      [&] {
        return clients_talking.load() + failed_connects.load() == kClients &&
               total_acks.load() >= kClients * 10;
      },
      60s));
  const auto signalled = std::chrono::steady_clock::now();
  server.send_signal(SIGTERM);
  const auto status = server.wait_for_exit(15s);
  const double drain =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  for (auto& client : clients) client.join();
  ASSERT_EQ(status, 0) << server.stderr_text();
  EXPECT_LT(drain, 5.0 + 2.0);  // the drain deadline plus the forced-close grace
  EXPECT_EQ(failed_connects.load(), 0) << "last: " << connect_error;

  std::set<std::string> logged;
  std::istringstream lines(server.stdout_text());
  for (std::string line; std::getline(lines, line);) {
    const auto space = line.rfind(' ');
    if (space != std::string::npos) logged.insert(line.substr(space + 1));
  }
  std::size_t missing = 0;
  for (const auto& messages : acked) {
    for (const auto& message : messages) missing += logged.count(message) == 0 ? 1 : 0;
  }
  EXPECT_EQ(missing, 0u) << "of " << total_acks.load() << " acked messages";
  // The summary is the last thing the server writes: no connection thread logs after it.
  const std::string out = server.stdout_text();
  const auto summary = out.rfind("stopped after");
  ASSERT_NE(summary, std::string::npos);
  EXPECT_EQ(out.find('\n', summary), out.size() - 1) << out.substr(summary);
  std::cerr << "drain under load took " << drain << " s for " << kClients << " clients\n";
}

TEST(Stress, TwoThousandConnectionsTwentyMessagesEachEveryAckChecked) {
  ServerConfig config = loopback_config();
  config.mode = ReplyMode::kEcho;
  config.log_payloads = false;
  config.listen.backlog = 4096;
  RunningServer running(config);
  constexpr int kDrivers = 8;
  constexpr int kPerDriver = 250;
  constexpr int kRounds = 20;
  std::atomic<int> checked{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> drivers;
  for (int d = 0; d < kDrivers; ++d) {
    drivers.emplace_back([&, d] {
      try {
        std::vector<std::unique_ptr<TestClient>> connections;
        for (int c = 0; c < kPerDriver; ++c) {
          connections.push_back(std::make_unique<TestClient>(running.endpoint()));
        }
        // Every connection has a message in flight at once, then every reply is checked.
        for (int round = 0; round < kRounds; ++round) {
          for (int c = 0; c < kPerDriver; ++c) {
            connections[c]->send("d" + std::to_string(d) + "c" + std::to_string(c) + "r" +
                                 std::to_string(round) + "\n");
          }
          for (int c = 0; c < kPerDriver; ++c) {
            const std::string expected = "d" + std::to_string(d) + "c" + std::to_string(c) + "r" +
                                         std::to_string(round) + "\n";
            const std::string reply = connections[c]->read_line(30s);
            if (reply != expected)
              throw std::runtime_error("expected " + expected + " got " + reply);
            checked.fetch_add(1);
          }
        }
      } catch (const std::exception& error) {
        std::lock_guard lock(failures_mutex);
        failures.push_back(error.what());
      }
    });
  }
  for (auto& driver : drivers) driver.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " drivers failed, first: " << failures[0];
  EXPECT_EQ(checked.load(), kDrivers * kPerDriver * kRounds);
  EXPECT_EQ(running.server().stats().accepted, std::uint64_t{kDrivers * kPerDriver});
}

}  // namespace
}  // namespace tcp_server::testing
