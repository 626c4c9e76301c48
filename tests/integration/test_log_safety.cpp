// What a peer sends reaches the log only escaped, whichever way it gets there: here, through
// the PROXY header parser's rejection text, from a trusted proxy sending junk on loopback.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "log_text_checks.hpp"
#include "running_server.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using std::string_literals::operator""s;

ServerConfig trusting_loopback(LogFormat format) {
  ServerConfig config = loopback_config();
  config.proxy_protocol = ProxyVersions::kV1;
  config.trusted_proxies.push_back(*Cidr::parse("127.0.0.1/32"));
  config.log_format = format;
  return config;
}

TEST(LogSafety, JunkInATrustedProxyHeaderIsLoggedEscapedInTextAndJson) {
  const std::vector<std::string> protocols = {"TC\nP4"s, "\x1b[31mX"s, "\xff\xfe"s,
                                              "\x1b[2J\n\xff"s};
  for (const LogFormat format : {LogFormat::kText, LogFormat::kJson}) {
    const std::string rejection =
        format == LogFormat::kText ? "rejected: proxy-header" : R"("reason":"proxy-header")";
    for (const std::string& protocol : protocols) {
      // A server per header: rejections are logged at most once a second per reason.
      RunningServer running(trusting_loopback(format));
      TestClient proxy(running.endpoint());
      proxy.send("PROXY " + protocol + " 203.0.113.7 127.0.0.1 5555 9090\r\nhello\n");
      EXPECT_TRUE(proxy.wait_for_close());
      ASSERT_TRUE(running.log().wait_for(rejection)) << protocol;
      for (const std::string& line : running.log().lines()) {
        EXPECT_FALSE(holds_raw_control_byte(line)) << line;
        EXPECT_TRUE(is_valid_utf8(line)) << line;
      }
      EXPECT_EQ(running.log().lines_containing("v1 protocol").size(), 1u);
    }
  }
}

}  // namespace
}  // namespace tcp_server::testing
