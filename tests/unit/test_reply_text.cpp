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

}  // namespace
}  // namespace tcp_server
