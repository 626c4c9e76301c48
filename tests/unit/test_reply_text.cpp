#include "tcp_server/reply_text.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace tcp_server {
namespace {

TEST(DecodeReplyEscapes, PlainTextIsUnchanged) {
  EXPECT_EQ(decode_reply_escapes("ok,问题正在处理中..."), "ok,问题正在处理中...");
}

TEST(DecodeReplyEscapes, UnderstandsEachEscape) {
  EXPECT_EQ(decode_reply_escapes("+PONG\\r\\n"), "+PONG\r\n");
  EXPECT_EQ(decode_reply_escapes("a\\tb\\\\c"), "a\tb\\c");
  EXPECT_EQ(decode_reply_escapes("\\x41\\xfF\\0"), std::string("A\xff\0", 3));
}

std::string error_of(std::string_view text) {
  try {
    decode_reply_escapes(text);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "no error";
}

TEST(DecodeReplyEscapes, BadEscapesSayWhatAndWhere) {
  EXPECT_EQ(error_of("ok\\q"), "unknown escape \\q at offset 2");
  EXPECT_EQ(error_of("ok\\"), "lone backslash at offset 2");
  EXPECT_EQ(error_of("\\x4"), "\\x at offset 0 needs two hex digits, as in \\x0a");
  EXPECT_EQ(error_of("\\xg0"), "\\x at offset 0 needs two hex digits, as in \\x0a");
  EXPECT_EQ(error_of("\\\x1b"), "unknown escape \\\\x1b at offset 0");
}

std::string encoding_error_of(std::string_view text, const TextEncoding& encoding) {
  try {
    (void)encode_reply_text(text, encoding);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "no error";
}

TEST(EncodeReplyText, Utf8IsDecodeReplyEscapes) {
  for (const char* text : {"ok", "ok,问题正在处理中...", "+PONG\\r\\n", "\\xff\\0a\\\\"}) {
    EXPECT_EQ(encode_reply_text(text, TextEncoding()), decode_reply_escapes(text)) << text;
  }
}

TEST(EncodeReplyText, TextIsEncodedAndEscapesAreRawBytesAfterEncoding) {
  const TextEncoding gbk = TextEncoding::named("gbk");
  EXPECT_EQ(encode_reply_text("好\\r\\n", gbk), "\xba\xc3\r\n");
  // \xHH is a byte on the wire, not a character to encode: these are UTF-8's bytes for 你,
  // sent as they are, not GBK's.
  EXPECT_EQ(encode_reply_text("\\xe4\\xbd\\xa0", gbk), "\xe4\xbd\xa0");
  EXPECT_EQ(encode_reply_text("好\\xff好", gbk), "\xba\xc3\xff\xba\xc3");
  EXPECT_EQ(encode_reply_text("a\\\\b\\t\\0", gbk), std::string("a\\b\t\0", 5));
}

TEST(EncodeReplyText, EscapesFollowAStatefulEncodingBackInItsInitialState) {
  EXPECT_EQ(encode_reply_text("日\\n", TextEncoding::named("iso-2022-jp")), "\x1b$BF|\x1b(B\n");
}

TEST(EncodeReplyText, ErrorsCountCharactersOfTheTextAsGiven) {
  const TextEncoding latin1 = TextEncoding::named("iso-8859-1");
  EXPECT_EQ(encoding_error_of("你好", latin1),
            "cannot encode '你' (U+4F60), character 1, in ISO-8859-1");
  // a, \, n, then 你: the fourth character typed.
  EXPECT_EQ(encoding_error_of("a\\n你", latin1),
            "cannot encode '你' (U+4F60), character 4, in ISO-8859-1");
  EXPECT_EQ(encoding_error_of("好\\q", TextEncoding::named("gbk")),
            "unknown escape \\q at offset 3");
}

}  // namespace
}  // namespace tcp_server
