#include "tcp_server/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "log_text_checks.hpp"

namespace tcp_server {
namespace {

using testing::holds_raw_control_byte;
using testing::is_valid_utf8;

using std::string_literals::operator""s;

const std::string kSignature = "\r\n\r\n\0\r\nQUIT\n"s;

std::string v2_header(unsigned char command, unsigned char family, const std::string& addresses) {
  std::string header = kSignature;
  header += static_cast<char>(0x20 | command);
  header += static_cast<char>(family);
  header += static_cast<char>(addresses.size() >> 8);
  header += static_cast<char>(addresses.size() & 0xff);
  return header + addresses;
}

std::string v2_tcp4(const char* source, std::uint16_t source_port) {
  std::string addresses(12, '\0');
  ::inet_pton(AF_INET, source, addresses.data());
  ::inet_pton(AF_INET, "192.0.2.1", addresses.data() + 4);
  addresses[8] = static_cast<char>(source_port >> 8);
  addresses[9] = static_cast<char>(source_port & 0xff);
  addresses[10] = 0x23;
  addresses[11] = static_cast<char>(0x82);
  return v2_header(1, 0x11, addresses);
}

TEST(ProxyProtocol, V1Tcp4NamesTheClientAndLeavesWhatFollows) {
  const std::string header = "PROXY TCP4 203.0.113.7 192.0.2.1 5555 9090\r\n";
  const auto result = parse_proxy_header(header + "hello\n", ProxyVersions::kV1);
  ASSERT_EQ(result.status, ProxyParseStatus::kHeader) << result.error;
  EXPECT_EQ(result.length, header.size());
  EXPECT_EQ(result.version, 1);
  ASSERT_TRUE(result.source.has_value());
  EXPECT_EQ(result.source->to_string(), "203.0.113.7:5555");
}

TEST(ProxyProtocol, V1Tcp6AndUnknown) {
  const auto tcp6 =
      parse_proxy_header("PROXY TCP6 2001:db8::5 2001:db8::1 40000 443\r\n", ProxyVersions::kAny);
  ASSERT_EQ(tcp6.status, ProxyParseStatus::kHeader) << tcp6.error;
  EXPECT_EQ(tcp6.source->to_string(), "[2001:db8::5]:40000");
  const auto unknown = parse_proxy_header("PROXY UNKNOWN whatever\r\nx", ProxyVersions::kV1);
  ASSERT_EQ(unknown.status, ProxyParseStatus::kHeader);
  EXPECT_FALSE(unknown.source.has_value());
  EXPECT_EQ(unknown.length, 24u);
}

TEST(ProxyProtocol, EveryPrefixOfAValidHeaderNeedsMore) {
  for (const std::string& header :
       {"PROXY TCP4 203.0.113.7 192.0.2.1 5555 9090\r\n"s, v2_tcp4("198.51.100.3", 1234)}) {
    for (std::size_t length = 0; length < header.size(); ++length) {
      EXPECT_EQ(parse_proxy_header(header.substr(0, length), ProxyVersions::kAny).status,
                ProxyParseStatus::kNeedMore)
          << length;
    }
    EXPECT_EQ(parse_proxy_header(header, ProxyVersions::kAny).status, ProxyParseStatus::kHeader);
  }
}

TEST(ProxyProtocol, MalformedV1HeadersAreInvalidWithAReason) {
  for (const std::string& bad :
       {"PROXY TCP4 203.0.113.7 192.0.2.1 5555\r\n"s,
        "PROXY TCP4 203.0.113.7 192.0.2.1 5555 99999\r\n"s,
        "PROXY TCP4 203.0.113.7 192.0.2.1 05555 9090\r\n"s,
        "PROXY TCP4 2001:db8::5 192.0.2.1 1 2\r\n"s, "PROXY TCP6 203.0.113.7 2001:db8::1 1 2\r\n"s,
        "PROXY UDP4 203.0.113.7 192.0.2.1 1 2\r\n"s, "PROXY TCP4 203.0.113.7  192.0.2.1 1 2\r\n"s,
        "PROXY TCP4 300.0.0.1 192.0.2.1 1 2\r\n"s, "PROXY TCP4 203.0.113.7 192.0.2.1 1 2\n"s,
        "PROXY " + std::string(120, 'A'), "GET / HTTP/1.1\r\n"s}) {
    const auto result = parse_proxy_header(bad, ProxyVersions::kAny);
    EXPECT_EQ(result.status, ProxyParseStatus::kInvalid) << bad;
    EXPECT_FALSE(result.error.empty()) << bad;
  }
}

TEST(ProxyProtocol, RejectionTextQuotesReceivedBytesOnlyEscaped) {
  // A trusted proxy can still send junk; what the parser quotes from it ends up in the log.
  for (const std::string& protocol :
       {"TC\nP4"s, "\x1b[31mX"s, "\xff\xfe"s, "A\r\x7f\0B"s, "\xe2\x80\xae"s, "\xc2\x85"s,
        "TCP4\n\n\n\n\n\n\n\n\n\n\n\n"s}) {
    const std::string header = "PROXY " + protocol + " 203.0.113.7 192.0.2.1 5555 9090\r\n";
    const auto result = parse_proxy_header(header, ProxyVersions::kAny);
    ASSERT_EQ(result.status, ProxyParseStatus::kInvalid) << result.error;
    EXPECT_NE(result.error.find("v1 protocol"), std::string::npos) << result.error;
    EXPECT_FALSE(holds_raw_control_byte(result.error)) << result.error;
    EXPECT_TRUE(is_valid_utf8(result.error)) << result.error;
    EXPECT_EQ(result.error.find("\xe2\x80\xae"), std::string::npos) << result.error;
    EXPECT_LT(result.error.size(), 120u) << result.error;  // a small bound, however long the field
  }
  EXPECT_NE(parse_proxy_header("PROXY TC\nP4 1.2.3.4 5.6.7.8 1 2\r\n", ProxyVersions::kV1)
                .error.find("'TC?P4'"),
            std::string::npos);
}

TEST(ProxyProtocol, V2Tcp4Tcp6LocalAndUnspec) {
  const std::string tcp4 = v2_tcp4("198.51.100.3", 1234);
  const auto four = parse_proxy_header(tcp4 + "data", ProxyVersions::kV2);
  ASSERT_EQ(four.status, ProxyParseStatus::kHeader) << four.error;
  EXPECT_EQ(four.length, 28u);
  EXPECT_EQ(four.version, 2);
  EXPECT_EQ(four.source->to_string(), "198.51.100.3:1234");

  std::string addresses(36, '\0');
  ::inet_pton(AF_INET6, "2001:db8::7", addresses.data());
  addresses[32] = 0x01;
  addresses[33] = 0x02;
  const auto six = parse_proxy_header(v2_header(1, 0x21, addresses + "TLVS"), ProxyVersions::kAny);
  ASSERT_EQ(six.status, ProxyParseStatus::kHeader) << six.error;
  EXPECT_EQ(six.length, 16u + 40u);
  EXPECT_EQ(six.source->to_string(), "[2001:db8::7]:258");

  const auto local = parse_proxy_header(v2_header(0, 0x00, ""), ProxyVersions::kAny);
  ASSERT_EQ(local.status, ProxyParseStatus::kHeader);
  EXPECT_FALSE(local.source.has_value());
  const auto unspec = parse_proxy_header(v2_header(1, 0x00, "abc"), ProxyVersions::kAny);
  ASSERT_EQ(unspec.status, ProxyParseStatus::kHeader);
  EXPECT_FALSE(unspec.source.has_value());
}

TEST(ProxyProtocol, MalformedAndOversizedV2HeadersAreInvalid) {
  std::string wrong_version = v2_tcp4("198.51.100.3", 1);
  wrong_version[12] = 0x31;
  std::string wrong_command = v2_tcp4("198.51.100.3", 1);
  wrong_command[12] = 0x2F;
  std::string oversized = kSignature + "\x21\x11\xff\xff"s;
  for (const std::string& bad :
       {wrong_version, wrong_command, oversized, v2_header(1, 0x11, std::string(8, '\0')),
        v2_header(1, 0x21, std::string(12, '\0')), v2_header(1, 0x12, std::string(12, '\0')),
        v2_header(1, 0x41, std::string(12, '\0'))}) {
    const auto result = parse_proxy_header(bad, ProxyVersions::kV2);
    EXPECT_EQ(result.status, ProxyParseStatus::kInvalid) << result.error;
    EXPECT_FALSE(result.error.empty());
  }
  EXPECT_NE(parse_proxy_header(oversized, ProxyVersions::kV2).error.find("limit"),
            std::string::npos);
}

TEST(ProxyProtocol, OnlyTheAcceptedVersionIsTaken) {
  const auto v2_when_v1 = parse_proxy_header(v2_tcp4("198.51.100.3", 1), ProxyVersions::kV1);
  EXPECT_EQ(v2_when_v1.status, ProxyParseStatus::kInvalid);
  EXPECT_NE(v2_when_v1.error.find("only v1"), std::string::npos) << v2_when_v1.error;
  const auto v1_when_v2 =
      parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", ProxyVersions::kV2);
  EXPECT_EQ(v1_when_v2.status, ProxyParseStatus::kInvalid);
}

}  // namespace
}  // namespace tcp_server
