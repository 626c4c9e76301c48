// --log-hex: the hex dump (text log) and hex pairs (JSON's payload_hex), and the encoders.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "log_text_checks.hpp"
#include "tcp_server/log_encoder.hpp"
#include "tcp_server/log_format.hpp"

namespace tcp_server {
namespace {

using namespace std::string_view_literals;

std::string dump(std::string_view bytes, std::size_t max_bytes = 256, std::size_t dropped = 0) {
  std::string out;
  append_hex_dump_for_log(out, bytes, max_bytes, dropped);
  return out;
}

std::string hex(std::string_view bytes, std::size_t max_bytes = 256, std::size_t dropped = 0) {
  std::string out;
  append_hex_for_log(out, bytes, max_bytes, dropped);
  return out;
}

TEST(HexDump, MatchesXxdLayout) {
  // Expected lines as `xxd` prints "hello, world\n\x00\x01\x02\xff" (offset, pairs, column).
  EXPECT_EQ(dump("hello, world\n\x00\x01\x02\xff"sv),
            "17 bytes:\n"
            "  00000000: 6865 6c6c 6f2c 2077 6f72 6c64 0a00 0102  hello, world....\n"
            "  00000010: ff" +
                std::string(39, ' ') + ".");
}

TEST(HexDump, EmptyPayloadIsOnlyItsSize) {
  EXPECT_EQ(dump(""), "0 bytes:");
  EXPECT_EQ(dump("A"), "1 byte:\n  00000000: 41" + std::string(39, ' ') + "A");
}

TEST(HexDump, ExactlyOneLine) {
  EXPECT_EQ(dump("0123456789abcdef"),
            "16 bytes:\n  00000000: 3031 3233 3435 3637 3839 6162 6364 6566  0123456789abcdef");
}

TEST(HexDump, OffsetsCountOnPastOneLine) {
  const std::string bytes(40, 'x');
  const std::string out = dump(bytes);
  EXPECT_NE(out.find("\n  00000000: "), std::string::npos);
  EXPECT_NE(out.find("\n  00000010: "), std::string::npos);
  EXPECT_NE(out.find("\n  00000020: 7878 7878 7878 7878 "), std::string::npos);
  EXPECT_EQ(out.find("\n  00000030"), std::string::npos);
}

TEST(HexDump, RespectsMaxBytesAndCountsTheRest) {
  EXPECT_EQ(dump("abcdef", 2),
            "6 bytes:\n  00000000: 6162  " + std::string(35, ' ') + "ab\n  ...(+4 bytes)");
  // Bytes the framer cut count in the size and in what was left out.
  EXPECT_EQ(dump("ab", 2, 10),
            "12 bytes:\n  00000000: 6162  " + std::string(35, ' ') + "ab\n  ...(+10 bytes)");
}

TEST(HexDump, NoPeerByteCanStartALineOrDriveATerminal) {
  // Every byte value, including newline, CR, ESC, DEL and the UTF-8 of LINE SEPARATOR.
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  every_byte += "\n2026-01-01 00:00:00.000 info forged line\n\xe2\x80\xa8";
  const std::string out = dump(every_byte, 1 << 20);
  std::size_t start = 0;
  bool first = true;
  while (start <= out.size()) {
    const std::size_t end = std::min(out.find('\n', start), out.size());
    const std::string_view line(out.data() + start, end - start);
    EXPECT_FALSE(testing::holds_raw_control_byte(line)) << line;
    for (const char c : line) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << line;
    if (!first) {
      EXPECT_EQ(line.substr(0, 2), "  ") << line;
    }
    first = false;
    start = end + 1;
  }
}

TEST(HexDump, SizeBound) {
  const std::string bytes(1000, '\x80');
  for (std::size_t max : {0u, 1u, 15u, 16u, 17u, 256u, 1000u}) {
    EXPECT_LE(dump(bytes, max).size(), 5 * max + 96) << max;
  }
}

TEST(HexPairs, LowerCaseAndCut) {
  EXPECT_EQ(hex("\x00\x7f\xff\nA"sv), "007fff0a41");
  EXPECT_EQ(hex(""), "");
  EXPECT_EQ(hex("abcdef", 3), "616263...(+3 bytes)");
  EXPECT_EQ(hex("ab", 8, 5), "6162...(+5 bytes)");
}

TEST(PayloadStyleFor, HexOnlyWhenAsked) {
  EXPECT_EQ(payload_style(LogFormat::kText, false), PayloadStyle::kEscapedText);
  EXPECT_EQ(payload_style(LogFormat::kJson, false), PayloadStyle::kEscapedText);
  EXPECT_EQ(payload_style(LogFormat::kText, true), PayloadStyle::kHexDump);
  EXPECT_EQ(payload_style(LogFormat::kJson, true), PayloadStyle::kHex);
}

TEST(PayloadFormatterHex, IgnoresTheEncodingAndRespectsMax) {
  PayloadFormatter formatter(TextEncoding::named("GBK"), 4, PayloadStyle::kHex);
  std::string out;
  formatter.format(out, "\xc4\xe3\xba\xc3!"sv);
  EXPECT_EQ(out, "c4e3bac3...(+1 bytes)");
  PayloadFormatter dumper(TextEncoding(), 256, PayloadStyle::kHexDump);
  dumper.format(out, "hi\n");
  EXPECT_EQ(out, "3 bytes:\n  00000000: 6869 0a" + std::string(34, ' ') + "hi.");
}

TEST(JsonEncoderHex, NamesTheFieldPayloadHex) {
  LogLine line;
  make_log_encoder(LogFormat::kJson, true)->message(line, 7, "127.0.0.1:5", "6869");
  EXPECT_EQ(std::string_view(line.data(), line.size()),
            R"("event":"message","conn":7,"peer":"127.0.0.1:5","payload_hex":"6869")");
  LogLine plain;
  make_log_encoder(LogFormat::kJson)->message(plain, 7, "127.0.0.1:5", "hi");
  EXPECT_EQ(std::string_view(plain.data(), plain.size()),
            R"("event":"message","conn":7,"peer":"127.0.0.1:5","payload":"hi")");
}

TEST(TextEncoderHex, PeerThenTheDump) {
  LogLine line;
  make_log_encoder(LogFormat::kText, true)->message(line, 7, "127.0.0.1:5", dump("hi"));
  EXPECT_EQ(std::string_view(line.data(), line.size()),
            "127.0.0.1:5 2 bytes:\n  00000000: 6869" + std::string(37, ' ') + "hi");
}

}  // namespace
}  // namespace tcp_server
