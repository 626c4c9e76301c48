// The real binary run as an unprivileged user whose RLIMIT_NPROC leaves room for only a few
// client threads: when no thread can be had, --overflow decides, as it does at
// --max-connections.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "subprocess.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kBinary = TCP_SERVER_BINARY;
// The server's own threads (main, log writer, accept loop, a sanitizer's) plus a few for clients.
constexpr long kThreadLimit = 8;

std::vector<std::string> server_argv(std::vector<std::string> extra) {
  // An explicit connection limit far above the thread limit, so that threads run out first.
  std::vector<std::string> argv = {
      kBinary, "--host", "127.0.0.1", "--port", "0", "--max-connections", "100"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

TEST(ThreadLimit, RejectPolicySendsTheRejectMessageWhenNoThreadCanBeHad) {
  if (!Subprocess::can_run_as_nobody(kBinary)) {
    GTEST_SKIP() << "needs root, and a binary the user nobody can run, to limit its threads";
  }
  Subprocess server(server_argv({"--reject-message", "busy\\n"}),
                    {.nobody_thread_limit = kThreadLimit});
  const Endpoint endpoint = *Endpoint::from_ip("127.0.0.1", announced_port(server));
  std::vector<std::unique_ptr<TestClient>> served;
  for (int i = 0; i < kThreadLimit + 2; ++i) {
    auto client = std::make_unique<TestClient>(endpoint);
    // A refused client is told so unasked; a served one answers a line.
    std::string reply = client->read_available(200ms);
    if (reply.empty()) {
      client->send("hi\n");
      reply = client->read_line();
    }
    if (reply == "ok\n") {
      served.push_back(std::move(client));
      continue;
    }
    EXPECT_EQ(reply, "busy\n");
    EXPECT_FALSE(served.empty()) << "not even one client thread could be created";
    EXPECT_TRUE(client->wait_for_close());
    EXPECT_TRUE(server.wait_for_stdout_line("rejected: no-thread", 10s)) << server.stdout_text();
    // The clients with threads are still served.
    for (auto& other : served) {
      other->send("again\n");
      EXPECT_EQ(other->read_line(), "ok\n");
    }
    return;
  }
  FAIL() << "every client got a thread: the thread limit did not apply\n" << server.stdout_text();
}

TEST(ThreadLimit, DeferPolicyHoldsTheClientUntilAThreadIsFree) {
  if (!Subprocess::can_run_as_nobody(kBinary)) {
    GTEST_SKIP() << "needs root, and a binary the user nobody can run, to limit its threads";
  }
  Subprocess server(server_argv({"--overflow", "defer"}), {.nobody_thread_limit = kThreadLimit});
  const Endpoint endpoint = *Endpoint::from_ip("127.0.0.1", announced_port(server));
  std::vector<std::unique_ptr<TestClient>> served;
  std::unique_ptr<TestClient> held;
  for (int i = 0; i < kThreadLimit + 2 && !held; ++i) {
    auto client = std::make_unique<TestClient>(endpoint);
    client->send("hi\n");
    // Answered, or held: the server says it has no thread for it.
    const auto give_up = Clock::now() + 10s;
    while (Clock::now() < give_up) {
      if (client->read_available(20ms) == "ok\n") {
        served.push_back(std::move(client));
        break;
      }
      if (server.stdout_text().find("no thread for a client") != std::string::npos) {
        held = std::move(client);
        break;
      }
    }
    ASSERT_TRUE(client == nullptr) << "neither answered nor held\n" << server.stdout_text();
  }
  ASSERT_TRUE(held) << "every client got a thread: the thread limit did not apply";
  ASSERT_FALSE(served.empty()) << "not even one client thread could be created";
  // Held, not refused: still connected, not answered while every thread is busy.
  EXPECT_EQ(held->read_available(300ms), "");

  served.front().reset();  // its thread becomes free
  EXPECT_EQ(held->read_line(), "ok\n");
  held->send("and again\n");
  EXPECT_EQ(held->read_line(), "ok\n");
  EXPECT_EQ(server.stdout_text().find("rejected: no-thread"), std::string::npos);
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_for_exit(15s), 0) << server.stderr_text();
}

}  // namespace
}  // namespace tcp_server::testing
