// IPv4-mapped IPv6 rules ("::ffff:127.0.0.0/104") match the IPv4 clients they name: clients are
// unmapped (see Endpoint), so the rule is too.
#include <gtest/gtest.h>

#include <string>

#include "running_server.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

TEST(AccessControl, MappedDenyRuleRefusesTheIpv4ClientItNames) {
  {
    RunningServer running(loopback_config());
    TestClient client(running.endpoint());
    client.send("no rules\n");
    EXPECT_EQ(client.read_line(), "ok\n");
  }
  ServerConfig config = loopback_config();
  std::string why;
  const auto rule = Cidr::parse("::ffff:127.0.0.0/104", &why);
  ASSERT_TRUE(rule.has_value()) << why;
  config.access.deny.push_back(*rule);
  config.reject_message = "go away\n";
  RunningServer running(config);
  TestClient refused(running.endpoint());  // from 127.0.0.1
  EXPECT_EQ(refused.read_line(), "go away\n");
  EXPECT_TRUE(refused.wait_for_close());
  EXPECT_TRUE(running.log().wait_for("127.0.0.1:" + std::to_string(refused.local().port()) +
                                     " rejected: denied (denied by 127.0.0.0/8)"));
  EXPECT_EQ(running.server().stats().rejected[static_cast<std::size_t>(RejectReason::kDenied)], 1u);
}

}  // namespace
}  // namespace tcp_server::testing
