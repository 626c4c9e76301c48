// PROXY protocol on the server, with hand-crafted headers from a test client on loopback: the
// address in the header is what the log, the per-IP limit and the access rules see; bad,
// slow and untrusted headers close the connection and are logged.
#include <gtest/gtest.h>

#include <string>

#include "eventually.hpp"
#include "running_server.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

ServerConfig proxy_config(ProxyVersions versions) {
  ServerConfig config = loopback_config();
  config.proxy_protocol = versions;
  config.trusted_proxies.push_back(*Cidr::parse("127.0.0.1/32"));
  return config;
}

std::size_t rejected(RunningServer& running, RejectReason reason) {
  return running.server().stats().rejected[static_cast<std::size_t>(reason)];
}

TEST(ProxyProtocolServer, V1HeaderAndFirstMessageInOneWriteLogTheRealClient) {
  RunningServer running(proxy_config(ProxyVersions::kV1));
  TestClient proxy(running.endpoint());
  proxy.send("PROXY TCP4 203.0.113.7 127.0.0.1 5555 9090\r\nhello\nsecond\n");
  EXPECT_EQ(proxy.read_line(), "ok\n");
  EXPECT_EQ(proxy.read_line(), "ok\n");
  EXPECT_TRUE(running.log().wait_for("203.0.113.7:5555 connected"));
  EXPECT_TRUE(running.log().wait_for("203.0.113.7:5555 hello"));
  EXPECT_TRUE(running.log().wait_for("203.0.113.7:5555 second"));
  EXPECT_TRUE(running.log().lines_containing(proxy.local().to_string()).empty());
}

TEST(ProxyProtocolServer, V2HeaderSplitAcrossWritesIsReassembled) {
  RunningServer running(proxy_config(ProxyVersions::kAny));
  TestClient proxy(running.endpoint());
  const std::string header(
      "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\xc6\x33\x64\x03\x7f\x00\x00\x01"
      "\x04\xd2\x23\x82",
      28);
  proxy.send(header.substr(0, 5));
  proxy.send(header.substr(5, 15));
  proxy.send(header.substr(20) + "hi\n");
  EXPECT_EQ(proxy.read_line(), "ok\n");
  EXPECT_TRUE(running.log().wait_for("198.51.100.3:1234 hi"));
}

TEST(ProxyProtocolServer, LocalAndUnknownKeepTheSocketAddress) {
  RunningServer running(proxy_config(ProxyVersions::kV1));
  TestClient proxy(running.endpoint());
  proxy.send("PROXY UNKNOWN\r\nhealth\n");
  EXPECT_EQ(proxy.read_line(), "ok\n");
  EXPECT_TRUE(running.log().wait_for(proxy.local().to_string() + " health"));
}

TEST(ProxyProtocolServer, MalformedHeaderClosesAndIsLoggedWhileOthersAreServed) {
  RunningServer running(proxy_config(ProxyVersions::kAny));
  TestClient bad(running.endpoint());
  bad.send("PROXY TCP4 203.0.113.7 127.0.0.1 5555\r\nhello\n");
  EXPECT_TRUE(bad.wait_for_close());
  TestClient no_header(running.endpoint());
  no_header.send("hello\n");
  EXPECT_TRUE(no_header.wait_for_close());
  EXPECT_TRUE(running.log().wait_for("rejected: proxy-header (v1 header needs 5 fields"));
  EXPECT_EQ(rejected(running, RejectReason::kProxyHeader), 2u);
  EXPECT_TRUE(running.log().lines_containing(" hello").empty());  // never served as a message
  TestClient good(running.endpoint());
  good.send("PROXY TCP4 203.0.113.9 127.0.0.1 1 2\r\nok?\n");
  EXPECT_EQ(good.read_line(), "ok\n");
}

TEST(ProxyProtocolServer, AHeaderThatNeverCompletesTimesOut) {
  ServerConfig config = proxy_config(ProxyVersions::kV1);
  config.proxy_header_timeout = 300ms;
  RunningServer running(config);
  TestClient slow(running.endpoint());
  slow.send("PROXY TCP4 203.0");
  EXPECT_TRUE(slow.wait_for_close(10s));
  EXPECT_TRUE(running.log().wait_for("no complete PROXY header in time"));
}

TEST(ProxyProtocolServer, AConnectionFromAnUntrustedAddressIsRefused) {
  RunningServer running(proxy_config(ProxyVersions::kV1));
  TestClient stranger(running.endpoint(), *Endpoint::from_ip("127.0.0.2", 0));
  stranger.send("PROXY TCP4 10.0.0.1 127.0.0.1 1 2\r\nlet me in\n");
  EXPECT_TRUE(stranger.wait_for_close());
  EXPECT_TRUE(running.log().wait_for("rejected: proxy-header (not from a --trusted-proxy)"));
}

TEST(ProxyProtocolServer, AccessRulesAndPerIpLimitSeeTheRealClient) {
  ServerConfig config = proxy_config(ProxyVersions::kV1);
  config.access.deny.push_back(*Cidr::parse("203.0.113.0/24"));
  config.max_per_ip = 1;
  RunningServer running(config);
  // Denied by the address in the header, although the proxy itself (127.0.0.1) is not denied.
  TestClient denied(running.endpoint());
  denied.send("PROXY TCP4 203.0.113.7 127.0.0.1 5555 9090\r\nhi\n");
  EXPECT_TRUE(denied.wait_for_close());
  EXPECT_TRUE(running.log().wait_for("203.0.113.7:5555 rejected: denied"));
  // Two clients through the same proxy connection address, from different real addresses,
  // are both served; a second one from the same real address is over the per-IP limit.
  TestClient first(running.endpoint());
  first.send("PROXY TCP4 198.51.100.1 127.0.0.1 1000 9090\r\none\n");
  EXPECT_EQ(first.read_line(), "ok\n");
  TestClient other(running.endpoint());
  other.send("PROXY TCP4 198.51.100.2 127.0.0.1 1000 9090\r\ntwo\n");
  EXPECT_EQ(other.read_line(), "ok\n");
  TestClient same(running.endpoint());
  same.send("PROXY TCP4 198.51.100.1 127.0.0.1 1001 9090\r\nthree\n");
  EXPECT_TRUE(same.wait_for_close());
  EXPECT_TRUE(running.log().wait_for("198.51.100.1:1001 rejected: per-ip-limit"));
}

}  // namespace
}  // namespace tcp_server::testing
