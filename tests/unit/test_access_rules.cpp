#include "tcp_server/access_rules.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace tcp_server {
namespace {

Endpoint ip(const char* text) {
  return *Endpoint::from_ip(text, 1234);
}

TEST(Cidr, ParsesNetworksAndSingleAddresses) {
  EXPECT_EQ(Cidr::parse("10.0.0.0/8")->to_string(), "10.0.0.0/8");
  EXPECT_EQ(Cidr::parse("192.0.2.7")->to_string(), "192.0.2.7/32");
  EXPECT_EQ(Cidr::parse("2001:db8::/32")->to_string(), "2001:db8::/32");
  EXPECT_EQ(Cidr::parse("::1")->to_string(), "::1/128");
  EXPECT_EQ(Cidr::parse("0.0.0.0/0")->to_string(), "0.0.0.0/0");
}

TEST(Cidr, RefusesMalformedTextWithAReason) {
  for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x", "300.1.1.1",
                          "10.1.0.0/8", "::1/129", "example.com", "10.0.0.0/8/8"}) {
    std::string why;
    EXPECT_FALSE(Cidr::parse(bad, &why).has_value()) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
  std::string why;
  (void)Cidr::parse("10.1.0.0/8", &why);
  EXPECT_NE(why.find("beyond its /8"), std::string::npos) << why;
}

TEST(Cidr, MatchesByPrefixIncludingPartialBytes) {
  const Cidr net = *Cidr::parse("172.16.0.0/12");
  EXPECT_TRUE(net.contains(ip("172.16.0.1")));
  EXPECT_TRUE(net.contains(ip("172.31.255.255")));
  EXPECT_FALSE(net.contains(ip("172.32.0.0")));
  EXPECT_FALSE(net.contains(ip("172.15.255.255")));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(ip("8.8.8.8")));
  EXPECT_TRUE(Cidr::parse("2001:db8::/32")->contains(ip("2001:db8:1::5")));
  EXPECT_FALSE(Cidr::parse("2001:db8::/32")->contains(ip("2001:db9::5")));
}

TEST(Cidr, FamiliesNeverCrossButMappedIpv4IsIpv4) {
  EXPECT_FALSE(Cidr::parse("::/0")->contains(ip("127.0.0.1")));
  EXPECT_FALSE(Cidr::parse("0.0.0.0/0")->contains(ip("::1")));
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; Endpoint unmaps them.
  EXPECT_TRUE(Cidr::parse("127.0.0.0/8")->contains(ip("::ffff:127.0.0.5")));
}

TEST(Cidr, MappedIpv6RuleBecomesTheIpv4RuleItMeans) {
  // Clients arrive unmapped (see Endpoint), so a mapped rule must be IPv4 to ever match.
  const Cidr loopback = *Cidr::parse("::ffff:127.0.0.0/104");
  EXPECT_EQ(loopback, *Cidr::parse("127.0.0.0/8"));
  EXPECT_EQ(loopback.to_string(), "127.0.0.0/8");
  const Endpoint client = ip("127.0.0.1");
  ASSERT_FALSE(client.is_v6());
  EXPECT_TRUE(loopback.contains(client));
  EXPECT_TRUE(loopback.contains(ip("127.255.255.254")));
  EXPECT_FALSE(loopback.contains(ip("128.0.0.1")));
  EXPECT_FALSE(loopback.contains(ip("::1")));
  EXPECT_EQ(Cidr::parse("::ffff:1.2.3.4")->to_string(), "1.2.3.4/32");
  EXPECT_EQ(Cidr::parse("::ffff:1.2.3.4/128")->to_string(), "1.2.3.4/32");
  EXPECT_EQ(Cidr::parse("::FFFF:0:0/96")->to_string(), "0.0.0.0/0");
  EXPECT_EQ(Cidr::parse("::ffff:c000:200/120")->to_string(), "192.0.2.0/24");
  std::string why;
  EXPECT_FALSE(Cidr::parse("::ffff:127.0.0.0/103", &why).has_value());
  EXPECT_NE(why.find("beyond its /103"), std::string::npos) << why;
}

TEST(Cidr, MappedIpv6RuleShorterThan96IsRefusedWithTheReason) {
  for (const char* bad : {"::ffff:0.0.0.0/95", "::ffff:0:0/80", "::ffff:0.0.0.0/0"}) {
    std::string why;
    EXPECT_FALSE(Cidr::parse(bad, &why).has_value()) << bad;
    EXPECT_NE(why.find("IPv4-mapped"), std::string::npos) << why;
    EXPECT_NE(why.find("/96"), std::string::npos) << why;
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
  }
  // Not mapped: an ordinary IPv6 rule, left as it is.
  EXPECT_EQ(Cidr::parse("::fffe:0:0/96")->to_string(), "::fffe:0:0/96");
  EXPECT_EQ(Cidr::parse("::/0")->to_string(), "::/0");
}

TEST(AccessRules, DenyWinsAllowRestrictsNoRulesServesEveryone) {
  AccessRules rules;
  EXPECT_FALSE(rules.refusal(ip("203.0.113.9")).has_value());
  rules.allow.push_back(*Cidr::parse("10.0.0.0/8"));
  EXPECT_FALSE(rules.refusal(ip("10.1.2.3")).has_value());
  EXPECT_EQ(rules.refusal(ip("11.0.0.1")), "not in any --allow network");
  rules.deny.push_back(*Cidr::parse("10.9.0.0/16"));
  EXPECT_EQ(rules.refusal(ip("10.9.1.1")), "denied by 10.9.0.0/16");
  EXPECT_FALSE(rules.refusal(ip("10.8.1.1")).has_value());
}

TEST(CidrList, SkipsCommentsAndBlankLinesAndNamesTheBadLine) {
  const auto networks = parse_cidr_list("# office\n10.0.0.0/8  # lan\n\n  ::1\r\n192.0.2.1");
  ASSERT_EQ(networks.size(), 3u);
  EXPECT_EQ(networks[1].to_string(), "::1/128");
  try {
    (void)parse_cidr_list("10.0.0.0/8\n\nnot-an-ip\n");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("line 3"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace tcp_server
