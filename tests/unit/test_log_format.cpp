#include "tcp_server/log_format.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace tcp_server {
namespace {

constexpr std::size_t kUnlimited = 1 << 20;

TEST(EscapeForLog, KeepsPrintableTextIncludingChinese) {
  EXPECT_EQ(escape_for_log("hello, 问题正在处理中", kUnlimited), "hello, 问题正在处理中");
}

TEST(EscapeForLog, EscapesControlsBackslashAndDelete) {
  EXPECT_EQ(escape_for_log(std::string("a\nb\rc\td\\e\x1b[2J\x7f\0", 15), kUnlimited),
            "a\\nb\\rc\\td\\\\e\\x1b[2J\\x7f\\x00");
}

TEST(EscapeForLog, InvalidUtf8BytesAreShownAsHex) {
  // GBK for 你好, a lone continuation byte, an overlong '/', and a UTF-16 surrogate.
  EXPECT_EQ(escape_for_log("\xc4\xe3\xba\xc3", kUnlimited), "\\xc4\\xe3\\xba\\xc3");
  EXPECT_EQ(escape_for_log("\x80", kUnlimited), "\\x80");
  EXPECT_EQ(escape_for_log("\xc0\xaf", kUnlimited), "\\xc0\\xaf");
  EXPECT_EQ(escape_for_log("\xed\xa0\x80", kUnlimited), "\\xed\\xa0\\x80");
  EXPECT_EQ(escape_for_log("\xe4\xbd", kUnlimited), "\\xe4\\xbd");
}

TEST(EscapeForLog, C1BidiAndLineSeparatorsAreShownAsCodePoints) {
  EXPECT_EQ(escape_for_log("\xc2\x85", kUnlimited), "\\u{0085}");
  EXPECT_EQ(escape_for_log("user\xe2\x80\xaegnp.exe", kUnlimited), "user\\u{202E}gnp.exe");
  EXPECT_EQ(escape_for_log("a\xe2\x80\xa8z", kUnlimited), "a\\u{2028}z");
  EXPECT_EQ(escape_for_log("\xe2\x81\xa6", kUnlimited), "\\u{2066}");
}

// Encodes one code point as UTF-8 (test input only; cp must be a Unicode scalar value).
std::string utf8(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

TEST(EscapeForLog, EveryBidiControlIsShownAsACodePoint) {
  // The Bidi_Control property, complete as of Unicode 15 (PropList.txt).
  constexpr char32_t kBidiControls[] = {0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C,
                                        0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069};
  for (const char32_t cp : kBidiControls) {
    EXPECT_EQ(escape_for_log("a" + utf8(cp) + "b", kUnlimited),
              fmt::format("a\\u{{{:04X}}}b", static_cast<std::uint32_t>(cp)));
  }
  // Neighbours are ordinary text: ARABIC SEMICOLON, ARABIC END OF TEXT MARK, ZERO WIDTH
  // JOINER (emoji sequences need it), WORD JOINER.
  constexpr char32_t kNeighbours[] = {0x061B, 0x061D, 0x200D, 0x2060};
  for (const char32_t cp : kNeighbours) {
    EXPECT_EQ(escape_for_log(utf8(cp), kUnlimited), utf8(cp)) << static_cast<unsigned>(cp);
  }
}

TEST(EscapeForLog, TruncatesWithoutCuttingACharacterAndCountsWhatItLeftOut) {
  EXPECT_EQ(escape_for_log("abcdef", 4), "abcd...(+2 bytes)");
  // 你 is three bytes: four allowed bytes fit "a" and one whole character.
  EXPECT_EQ(escape_for_log("a你好", 4), "a你...(+3 bytes)");
  EXPECT_EQ(escape_for_log("a你好", 3), "a...(+6 bytes)");
  EXPECT_EQ(escape_for_log("abc", 3), "abc");
}

TEST(EscapeForLog, ExtraDroppedBytesAddToTheCount) {
  std::string out = "prefix ";
  append_escaped_for_log(out, "abcd", 256, 10);
  EXPECT_EQ(out, "prefix abcd...(+10 bytes)");
}

TEST(EscapeForLog, OutputNeverHoldsAControlByte) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  const std::string shown = escape_for_log(every_byte, kUnlimited);
  for (char c : shown) {
    const auto byte = static_cast<unsigned char>(c);
    EXPECT_FALSE(byte < 0x20 || byte == 0x7f) << "raw byte " << int(byte);
  }
}

TEST(PayloadFormatter, Utf8IsTheDefaultEscaping) {
  PayloadFormatter formatter(TextEncoding(), 256);
  std::string out = "stale";
  formatter.format(out, "hi\n", 0);
  EXPECT_EQ(out, "hi\\n");
}

TEST(PayloadFormatter, GbkIsDecodedForTheLog) {
  PayloadFormatter formatter(TextEncoding::named("gbk"), 256);
  std::string out;
  // "ok,问题正在处理中..." as the original tutorial sent it, in GBK.
  formatter.format(out, "ok,\xce\xca\xcc\xe2\xd5\xfd\xd4\xda\xb4\xa6\xc0\xed\xd6\xd0...");
  EXPECT_EQ(out, "ok,问题正在处理中...");
}

TEST(PayloadFormatter, InvalidGbkBytesAndControlsAreEscaped) {
  PayloadFormatter formatter(TextEncoding::named("gbk"), 256);
  std::string out;
  formatter.format(out, "\xc4\xe3\xff\x1b[m\xc4");
  EXPECT_EQ(out, "你\\xff\\x1b[m\\xc4");
}

TEST(PayloadFormatter, Gb18030Big5ShiftJisEucKrAndIso2022JpAreDecodedToo) {
  const struct {
    const char* encoding;
    std::string bytes;
    std::string shown;
  } cases[] = {
      {"gb18030", "\xbf\xcd\xbb\xa7\xb6\xcb\x94\x39\xfc\x36", "客户端😀"},
      {"big5", "\xb0\xdd\xc3\x44\xa5\xbf\xa6\x62\xb3\x42\xb2\x7a\xa4\xa4", "問題正在處理中"},
      {"shift_jis", "\x93\xfa\x96\x7b", "日本"},
      {"euc-kr", "\xc7\xd1\xb1\xb9", "한국"},
      {"iso-2022-jp", "\x1b$BF|\x1b(B\n", "日\\n"},
  };
  for (const auto& sample : cases) {
    PayloadFormatter formatter(TextEncoding::named(sample.encoding), 256);
    std::string out;
    formatter.format(out, sample.bytes);
    EXPECT_EQ(out, sample.shown) << sample.encoding;
  }
}

TEST(PayloadFormatter, ACharacterADecoderHoldsBackIsShownAtTheEndOfTheMessage) {
  // BIG5-HKSCS keeps Ê (0x8866) back in case a combining mark follows.
  PayloadFormatter formatter(TextEncoding::named("big5-hkscs"), 256);
  std::string out;
  formatter.format(out, "a\x88\x66");
  EXPECT_EQ(out, "aÊ");
}

TEST(PayloadFormatter, GbkTruncationCountsBytesNotShown) {
  PayloadFormatter formatter(TextEncoding::named("gbk"), 3);
  std::string out;
  // 你好 is four GBK bytes; three allowed bytes fit one character.
  formatter.format(out, "\xc4\xe3\xba\xc3", 5);
  EXPECT_EQ(out, "你...(+7 bytes)");
}

}  // namespace
}  // namespace tcp_server

namespace tcp_server {
namespace {

TEST(JsonQuote, EscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(json_quote("plain"), "\"plain\"");
  EXPECT_EQ(json_quote("say \"hi\" \\ there"), R"("say \"hi\" \\ there")");
  EXPECT_EQ(json_quote(std::string("a\x01\n\x1b\x7f", 5)), R"("a\u0001\u000a\u001b\u007f")");
  EXPECT_EQ(json_quote("你好"), "\"你好\"");
  EXPECT_EQ(json_quote(""), "\"\"");
}

TEST(JsonQuote, AnEscapedPayloadStaysReadableAfterDecoding) {
  // The log shows escape_for_log's text; JSON only adds its own layer, which a parser removes.
  EXPECT_EQ(json_quote(escape_for_log("\x1b[2J", 256)), R"("\\x1b[2J")");
}

}  // namespace
}  // namespace tcp_server
