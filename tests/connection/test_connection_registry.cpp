// The registry on its own, with stand-ins for connections: what a Registration does over its
// lifetime, the --max-per-ip count, and what the drain asks of every live connection.
#include "connection_registry.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <vector>

namespace tcp_server {
namespace {

struct FakeConnection final : Drainable {
  void request_drain() noexcept override { ++drain_requests; }
  void shut_down(int how) noexcept override { shut_downs.push_back(how); }
  int drain_requests = 0;
  std::vector<int> shut_downs;
};

const Endpoint kClient = *Endpoint::from_ip("192.0.2.7", 40000);

TEST(ConnectionRegistry, ARegistrationLeavesTheRegistryWhenDestroyed) {
  int removals = 0;
  ConnectionRegistry registry(0, [&] { ++removals; });
  FakeConnection connection;
  {
    const Registration registration = registry.add(connection);
    EXPECT_EQ(registry.size(), 1u);
  }
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(removals, 1);
  EXPECT_TRUE(registry.wait_until_empty(std::chrono::steady_clock::now()));
}

TEST(ConnectionRegistry, AMovedRegistrationLeavesOnceWhenItsLastHolderEnds) {
  int removals = 0;
  ConnectionRegistry registry(0, [&] { ++removals; });
  FakeConnection connection;
  Registration first = registry.add(connection);
  Registration second = std::move(first);
  first.reset();  // moved from: nothing to leave
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(removals, 0);
  second.reset();
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(removals, 1);
  second.reset();
  EXPECT_EQ(removals, 1);
}

TEST(ConnectionRegistry, AdmitsUpToMaxPerIpFromOneAddressAndCountsALeaver) {
  ConnectionRegistry registry(2, {});
  FakeConnection a, b, c, other;
  Registration first = registry.add(a);
  Registration second = registry.add(b);
  Registration third = registry.add(c);
  Registration elsewhere = registry.add(other);
  EXPECT_TRUE(first.admit(kClient));
  EXPECT_TRUE(second.admit(kClient));
  EXPECT_FALSE(third.admit(kClient)) << "a third from the same address";
  EXPECT_TRUE(elsewhere.admit(*Endpoint::from_ip("192.0.2.8", 40000)));
  first.reset();
  EXPECT_TRUE(third.admit(kClient)) << "room again once one has left";
}

TEST(ConnectionRegistry, CountsIpv6ClientsPerSlash64) {
  ConnectionRegistry registry(1, {});
  FakeConnection a, b, c;
  Registration first = registry.add(a);
  Registration same_64 = registry.add(b);
  Registration other_64 = registry.add(c);
  EXPECT_TRUE(first.admit(*Endpoint::from_ip("2001:db8:0:1::1", 1)));
  EXPECT_FALSE(same_64.admit(*Endpoint::from_ip("2001:db8:0:1::2", 1)));
  EXPECT_TRUE(other_64.admit(*Endpoint::from_ip("2001:db8:0:2::1", 1)));
}

TEST(ConnectionRegistry, NoLimitAdmitsEveryone) {
  ConnectionRegistry registry(0, {});
  std::vector<FakeConnection> connections(5);
  std::vector<Registration> registrations;
  for (FakeConnection& connection : connections) {
    registrations.push_back(registry.add(connection));
    EXPECT_TRUE(registrations.back().admit(kClient));
  }
}

TEST(ConnectionRegistry, BeginDrainAsksEveryLiveConnectionOnceAndShutDownAllPassesHow) {
  ConnectionRegistry registry(0, {});
  FakeConnection a, b, gone;
  Registration first = registry.add(a);
  Registration second = registry.add(b);
  { const Registration left = registry.add(gone); }
  registry.begin_drain();
  registry.shut_down_all(SHUT_RD);
  EXPECT_EQ(a.drain_requests, 1);
  EXPECT_EQ(b.drain_requests, 1);
  EXPECT_EQ(gone.drain_requests, 0);
  EXPECT_EQ(a.shut_downs, std::vector<int>{SHUT_RD});
  EXPECT_EQ(b.shut_downs, std::vector<int>{SHUT_RD});
  EXPECT_TRUE(gone.shut_downs.empty());
}

TEST(ConnectionRegistry, WaitUntilEmptyTimesOutWhileAConnectionIsLive) {
  ConnectionRegistry registry(0, {});
  FakeConnection connection;
  const Registration registration = registry.add(connection);
  EXPECT_FALSE(
      registry.wait_until_empty(std::chrono::steady_clock::now() + std::chrono::milliseconds(10)));
}

}  // namespace
}  // namespace tcp_server
