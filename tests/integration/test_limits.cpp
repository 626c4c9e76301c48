// Connection limits, deadlines and hostile input, against an in-process server.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <fstream>
#include <optional>
#include <regex>
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

std::string round_trip(TestClient& client, const std::string& line) {
  client.send(line + "\n");
  return client.read_line();
}

TEST(ConnectionLimit, RejectPolicyRefusesClientNPlusOneWithTheMessageThenFreesTheSlot) {
  ServerConfig config = loopback_config();
  config.max_connections = 2;
  config.overflow = OverflowPolicy::kReject;
  config.reject_message = "busy, try later\n";
  RunningServer running(config);
  auto first = std::make_unique<TestClient>(running.endpoint());
  TestClient second(running.endpoint());
  EXPECT_EQ(round_trip(*first, "1"), "ok\n");
  EXPECT_EQ(round_trip(second, "2"), "ok\n");

  TestClient third(running.endpoint());
  EXPECT_EQ(third.read_line(), "busy, try later\n");
  EXPECT_TRUE(third.wait_for_close());
  EXPECT_EQ(
      running.server().stats().rejected[static_cast<std::size_t>(RejectReason::kConnectionLimit)],
      1u);
  EXPECT_TRUE(running.log().wait_for("rejected: connection-limit"));

  first.reset();  // frees one slot
  ASSERT_TRUE(eventually([&] { return running.server().stats().active == 1; }));
  TestClient fourth(running.endpoint());
  EXPECT_EQ(round_trip(fourth, "4"), "ok\n");
  // Exactly once: the slot is taken again, so the next client is refused.
  TestClient fifth(running.endpoint());
  EXPECT_EQ(fifth.read_line(), "busy, try later\n");
}

TEST(ConnectionLimit, DeferPolicyQueuesClientNPlusOneUntilASlotFrees) {
  ServerConfig config = loopback_config();
  config.max_connections = 2;
  config.overflow = OverflowPolicy::kDefer;
  RunningServer running(config);
  auto first = std::make_unique<TestClient>(running.endpoint());
  TestClient second(running.endpoint());
  EXPECT_EQ(round_trip(*first, "1"), "ok\n");
  EXPECT_EQ(round_trip(second, "2"), "ok\n");

  TestClient third(running.endpoint());  // completes in the kernel backlog
  third.send("3\n");
  EXPECT_EQ(third.read_available(200ms), "");  // not served while both slots are taken
  EXPECT_EQ(running.server().stats().accepted, 2u);

  first.reset();
  EXPECT_EQ(third.read_line(), "ok\n");
  EXPECT_EQ(running.server().stats().rejected_total(), 0u);
}

TEST(ConnectionLimit, OneSlotWithDeferServesThreeClientsStrictlyInTurn) {
  ServerConfig config = loopback_config();
  config.max_connections = 1;
  config.overflow = OverflowPolicy::kDefer;
  RunningServer running(config);
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<TestClient>(running.endpoint()));
    clients.back()->send("client " + std::to_string(i) + "\n");
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(clients[i]->read_line(), "ok\n") << i;
    for (int later = i + 1; later < 3; ++later) {
      EXPECT_EQ(clients[later]->read_available(50ms), "") << later << " served before " << i;
    }
    clients[i]->shutdown_write();
    EXPECT_TRUE(clients[i]->wait_for_close());
  }
  const auto messages = running.log().lines_containing(" client ");
  ASSERT_EQ(messages.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(messages[i].find("client " + std::to_string(i)), std::string::npos) << messages[i];
  }
}

TEST(PerIpLimit, ThirdClientFromOneAddressIsRefusedWhileAnotherAddressIsServed) {
  ServerConfig config = loopback_config();
  config.max_per_ip = 2;
  config.reject_message = "too many from you\n";
  RunningServer running(config);
  const Endpoint home = *Endpoint::from_ip("127.0.0.1", 0);
  const Endpoint neighbour = *Endpoint::from_ip("127.0.0.2", 0);
  auto first = std::make_unique<TestClient>(running.endpoint(), home);
  TestClient second(running.endpoint(), home);
  EXPECT_EQ(round_trip(*first, "1"), "ok\n");
  EXPECT_EQ(round_trip(second, "2"), "ok\n");

  TestClient third(running.endpoint(), home);
  EXPECT_EQ(third.read_line(), "too many from you\n");
  EXPECT_TRUE(third.wait_for_close());
  TestClient other(running.endpoint(), neighbour);
  EXPECT_EQ(round_trip(other, "from .2"), "ok\n");

  first.reset();
  ASSERT_TRUE(eventually([&] { return running.server().stats().active == 2; }));
  TestClient again(running.endpoint(), home);
  EXPECT_EQ(round_trip(again, "again"), "ok\n");
  EXPECT_EQ(running.server().stats().rejected[static_cast<std::size_t>(RejectReason::kPerIpLimit)],
            1u);
}

TEST(IdleTimeout, SlowlorisConnectionsAreClosedWhileANewClientIsServed) {
  ServerConfig config = loopback_config();
  config.idle_timeout = 3s;
  config.log_payloads = false;
  RunningServer running(config);
  constexpr int kIdle = 300;
  std::vector<std::unique_ptr<TestClient>> idle;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<TestClient>(running.endpoint()));
    if (i % 2 == 0) idle.back()->send("GET / HTTP/1.1\r\nHost: x");  // a line that never ends
  }
  ASSERT_TRUE(running.log().wait_for("connected", kIdle));
  TestClient fresh(running.endpoint());
  EXPECT_EQ(round_trip(fresh, "am I served?"), "ok\n");
  EXPECT_TRUE(running.log().lines_containing("idle timeout").empty());  // served before any closed

  ASSERT_TRUE(running.log().wait_for("(idle timeout: nothing received for 3.0 s)", kIdle, 30s));
  for (auto& client : idle) EXPECT_TRUE(client->wait_for_close(5s));
}

TEST(SendTimeout, APeerThatNeverReadsIsDroppedAndOthersAreServed) {
  ServerConfig config = loopback_config();
  config.mode = ReplyMode::kEcho;
  config.framing = Framing::kChunk;
  config.log_payloads = false;
  config.send_timeout = 500ms;
  RunningServer running(config);
  TestClient hog(running.endpoint());
  const int small = 4096;
  ::setsockopt(hog.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  // Write until the server's echo fills every buffer on the way back and it stops reading us.
  std::thread writer([&] {
    const std::string block(64 * 1024, 'x');
    try {
      for (int i = 0; i < 2000; ++i) hog.send(block);  // bounded: 128 MiB at most
    } catch (const std::exception&) {
      // the server dropped us: expected
    }
  });
  TestClient other(running.endpoint());
  EXPECT_EQ(round_trip(other, "still responsive"), "still responsive\n");
  EXPECT_TRUE(running.log().wait_for("(send timeout: peer read nothing for 0.500 s)", 1, 20s));
  writer.join();
  EXPECT_EQ(round_trip(other, "after"), "after\n");
}

std::size_t resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      std::size_t kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 12, '\n');
  }
  return 0;
}

TEST(HostileInput, FiftyMegabyteLineJunkAndEscapesKeepMemoryBoundedAndOthersServed) {
  ServerConfig config = loopback_config();
  RunningServer running(config);
  TestClient bystander(running.endpoint());
  TestClient attacker(running.endpoint());
  const std::size_t before = resident_kib();
  std::string junk(1 << 20, '\0');
  for (std::size_t i = 0; i < junk.size(); ++i) {
    junk[i] = static_cast<char>(i % 251 == 0 ? 'A' : (i * 131) % 256);
    if (junk[i] == '\n') junk[i] = '\x1b';
  }
  for (int i = 0; i < 50; ++i) {
    attacker.send(junk);
    if (i % 10 == 0) {
      EXPECT_EQ(round_trip(bystander, "tick"), "ok\n");
    }
  }
  ASSERT_TRUE(eventually([&] { return running.server().stats().bytes_in >= 50u << 20; }, 30s));
  const std::size_t after = resident_kib();
  // 50 MiB went in; what the server keeps is one --max-line (64 KiB) plus buffers.
  EXPECT_LT(after, before + 16 * 1024) << "RSS grew from " << before << " to " << after << " KiB";
  attacker.send("\n");
  EXPECT_EQ(attacker.read_line(), "ok\n");  // one answer for the one (overlong) line
  ASSERT_TRUE(running.log().wait_for("(+52428"));
  for (const auto& line : running.log().lines()) {
    for (const char c : line) ASSERT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f);
  }
  EXPECT_EQ(round_trip(bystander, "done"), "ok\n");
}

}  // namespace
}  // namespace tcp_server::testing

namespace tcp_server::testing {
namespace {

// Access rules are tested in pairs: the same client, served without the rule, refused with it.
TEST(AccessControl, ClientServedWithoutTheDenyRuleIsRefusedWithIt) {
  const Endpoint neighbour = *Endpoint::from_ip("127.0.0.2", 0);
  {
    RunningServer running(loopback_config());
    TestClient client(running.endpoint(), neighbour);
    EXPECT_EQ(round_trip(client, "no rules"), "ok\n");
  }
  ServerConfig config = loopback_config();
  config.access.deny.push_back(*Cidr::parse("127.0.0.2/32"));
  config.reject_message = "go away\n";
  RunningServer running(config);
  TestClient refused(running.endpoint(), neighbour);
  EXPECT_EQ(refused.read_line(), "go away\n");
  EXPECT_TRUE(refused.wait_for_close());
  EXPECT_TRUE(running.log().wait_for("127.0.0.2:" + std::to_string(refused.local().port()) +
                                     " rejected: denied (denied by 127.0.0.2/32)"));
  TestClient home(running.endpoint());  // 127.0.0.1 is not denied
  EXPECT_EQ(round_trip(home, "still served"), "ok\n");
  EXPECT_EQ(running.server().stats().rejected[static_cast<std::size_t>(RejectReason::kDenied)], 1u);
}

TEST(AccessControl, AllowListServesItsNetworkAndRefusesTheRest) {
  ServerConfig config = loopback_config();
  config.access.allow.push_back(*Cidr::parse("127.0.0.1/32"));
  RunningServer running(config);
  TestClient inside(running.endpoint());
  EXPECT_EQ(round_trip(inside, "allowed"), "ok\n");
  TestClient outside(running.endpoint(), *Endpoint::from_ip("127.0.0.3", 0));
  EXPECT_TRUE(outside.wait_for_close());
  EXPECT_TRUE(running.log().wait_for("rejected: denied (not in any --allow network)"));
}

}  // namespace
}  // namespace tcp_server::testing

namespace tcp_server::testing {
namespace {

std::optional<std::uint64_t> read_number(const std::string& path) {
  std::ifstream file(path);
  std::uint64_t value = 0;
  if (!(file >> value)) return std::nullopt;
  return value;
}

// Every connection is a thread: the derived limit must fit the kernel's thread limits too, and
// the listening line says which limit it came from.
TEST(DerivedConnectionLimit, ListeningLineNamesTheBoundAndFitsEveryThreadLimit) {
  RunningServer running(loopback_config());
  const auto lines = running.log().lines_containing("listening on");
  ASSERT_EQ(lines.size(), 1u);
  const std::string& line = lines[0];
  std::smatch match;
  ASSERT_TRUE(std::regex_search(
      line, match,
      std::regex(R"(\(max (\d+) connections, bounded by (open files|RLIMIT_NPROC|pids\.max|)"
                 R"(kernel\.threads-max|kernel\.pid_max|vm\.max_map_count)\)$)")))
      << line;
  const std::uint64_t derived = std::stoull(match[1].str());
  EXPECT_GE(derived, 1u);
  // At most half of the system's PIDs and threads: the rest of the machine needs some too.
  if (const auto pid_max = read_number("/proc/sys/kernel/pid_max")) {
    EXPECT_LE(derived, *pid_max / 2);
  }
  if (const auto threads_max = read_number("/proc/sys/kernel/threads-max")) {
    EXPECT_LE(derived, *threads_max / 2);
  }
  if (const auto max_map_count = read_number("/proc/sys/vm/max_map_count")) {
    EXPECT_LE(derived, *max_map_count / 2);  // a stack and its guard page each
  }

  ServerConfig json = loopback_config();
  json.log_format = LogFormat::kJson;
  RunningServer json_running(json);
  const auto json_lines = json_running.log().lines_containing(R"("event":"listening")");
  ASSERT_EQ(json_lines.size(), 1u);
  EXPECT_NE(json_lines[0].find(R"("bounded_by":")" + match[2].str() + '"'), std::string::npos)
      << json_lines[0];
}

TEST(DerivedConnectionLimit, ExplicitLimitIsKeptAndWarnedAboutOnlyAboveTheCeiling) {
  ServerConfig config = loopback_config();
  config.max_connections = 1'000'000'000;
  {
    RunningServer running(config);
    const auto listening = running.log().lines_containing("listening on");
    ASSERT_EQ(listening.size(), 1u);
    EXPECT_NE(listening[0].find("(max 1000000000 connections)"), std::string::npos) << listening[0];
    const auto warnings = running.log().lines_containing("--max-connections 1000000000 is more");
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("bounded by "), std::string::npos) << warnings[0];
  }
  config.max_connections = 2;
  RunningServer modest(config);
  EXPECT_NE(modest.log().lines_containing("listening on").at(0).find("(max 2 connections)"),
            std::string::npos);
  EXPECT_TRUE(modest.log().lines_containing("--max-connections").empty());
}

ServerConfig denying_loopback() {
  ServerConfig config = loopback_config();
  config.access.deny.push_back(*Cidr::parse("127.0.0.1/32"));
  return config;
}

// Clients refused one after another; the local port of each, in order.
std::vector<std::uint16_t> refused_clients(const RunningServer& running, int count) {
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < count; ++i) {
    TestClient client(running.endpoint());
    ports.push_back(client.local().port());
    EXPECT_TRUE(client.wait_for_close()) << "client " << i << " was not refused";
  }
  return ports;
}

// The sum of the counts in the suppression summaries, text or JSON.
std::uint64_t summarized(const std::vector<std::string>& lines, const std::regex& count) {
  std::uint64_t total = 0;
  for (const auto& line : lines) {
    std::smatch match;
    if (std::regex_search(line, match, count)) total += std::stoull(match[1].str());
  }
  return total;
}

TEST(RejectionLog, ThreeClientsDeniedWithinASecondAreAllNamed) {
  RunningServer running(denying_loopback());
  for (const std::uint16_t port : refused_clients(running, 3)) {
    EXPECT_TRUE(running.log().wait_for(
        "127.0.0.1:" + std::to_string(port) + " rejected: denied (denied by 127.0.0.1/32)", 1, 5s))
        << "port " << port;
  }
}

TEST(RejectionLog, AFloodIsNamedUpToTheBurstThenSummarizedOnceItEnds) {
  RunningServer running(denying_loopback());
  constexpr int kClients = 200;  // a burst of 100 refills at 20/s: most of the rest are counted
  refused_clients(running, kClients);
  // Nothing else happens: the summary must come by itself once the flood is over.
  ASSERT_TRUE(running.log().wait_for("rejected: denied: ", 1, 10s));
  const auto named = running.log().lines_containing(" rejected: denied (").size();
  const auto summaries = running.log().lines_containing("rejected: denied: ");
  EXPECT_GE(named, 100u);
  EXPECT_EQ(named + summarized(summaries, std::regex(R"(rejected: denied: (\d+) more not logged)")),
            static_cast<std::uint64_t>(kClients));
  EXPECT_NE(summaries[0].find(" (e.g. 127.0.0.1:"), std::string::npos) << summaries[0];
}

TEST(RejectionLog, APendingSummaryIsWrittenBeforeTheFinalStatsLine) {
  ServerConfig config = denying_loopback();
  config.log_format = LogFormat::kJson;
  RunningServer running(config);
  constexpr int kClients = 200;
  refused_clients(running, kClients);
  running.stop_and_join();
  const auto lines = running.log().lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find(R"("event":"stats")"), std::string::npos) << lines.back();
  const auto named = running.log().lines_containing(R"("event":"rejected",)").size();
  const auto summaries = running.log().lines_containing(R"("event":"rejected_suppressed")");
  ASSERT_FALSE(summaries.empty());
  EXPECT_EQ(named + summarized(summaries, std::regex(R"("count":(\d+))")),
            static_cast<std::uint64_t>(kClients));
  EXPECT_NE(summaries[0].find(R"("reason":"denied")"), std::string::npos) << summaries[0];
  EXPECT_NE(summaries[0].find(R"("examples":["127.0.0.1:)"), std::string::npos) << summaries[0];
}

TEST(RejectionLog, ClientBytesInARejectionDetailNeverReachTheLogRaw) {
  ServerConfig config = loopback_config();
  config.proxy_protocol = ProxyVersions::kV1;
  config.trusted_proxies.push_back(*Cidr::parse("127.0.0.1/32"));
  RunningServer running(config);
  TestClient proxy(running.endpoint());
  proxy.send("PROXY \x1b]0;\x07 10.0.0.1 10.0.0.2 1 2\r\n");
  EXPECT_TRUE(proxy.wait_for_close());
  ASSERT_TRUE(running.log().wait_for("rejected: proxy-header"));
  for (const auto& line : running.log().lines()) {
    for (const char c : line) {
      ASSERT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << line;
    }
  }
}

}  // namespace
}  // namespace tcp_server::testing
