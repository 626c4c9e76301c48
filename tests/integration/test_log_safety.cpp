// What a peer sends reaches the log only escaped, whichever way it gets there: here, through
// the PROXY header parser's rejection text, from a trusted proxy sending junk on loopback.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "running_server.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using std::string_literals::operator""s;

// True when text is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or values past
// U+10FFFF).
bool is_valid_utf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto lead = static_cast<unsigned char>(text[pos]);
    std::size_t length = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (lead < 0x80) {
      ++pos;
      continue;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2, cp = lead & 0x1F, min = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3, cp = lead & 0x0F, min = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4, cp = lead & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (text.size() - pos < length) return false;
    for (std::size_t i = 1; i < length; ++i) {
      const auto next = static_cast<unsigned char>(text[pos + i]);
      if ((next & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    pos += length;
  }
  return true;
}

bool holds_raw_control_byte(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return true;
  }
  return false;
}

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
