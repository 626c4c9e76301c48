#include "message_template.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "tcp_server/reply_text.hpp"

namespace tcp_server::client {
namespace {

TEST(MessageTemplate, SubstitutesIdAndMessageNumber) {
  EXPECT_EQ(expand_message("client {id} says hi #{n}", 7, 3), "client 7 says hi #3");
  EXPECT_EQ(expand_message("客户端{id}正在连接", 2, 1), "客户端2正在连接");
  EXPECT_EQ(expand_message("{id}{id}{n}", 1, 22), "1122");
}

TEST(MessageTemplate, DoubledBracesAreLiteralAndOtherBracesAreKept) {
  EXPECT_EQ(expand_message("{{id}} {x} {", 5, 1), "{id} {x} {");
  EXPECT_EQ(expand_message("}}", 5, 1), "}");
  EXPECT_EQ(expand_message("", 5, 1), "");
}

TEST(EncodeMessageTemplate, TextIsEncodedAndPlaceholdersKept) {
  const TextEncoding gbk = TextEncoding::named("gbk");
  const std::string encoded = encode_message_template("客户端{id}正在连接", gbk);
  EXPECT_EQ(expand_message(encoded, 1, 1),
            "\xbf\xcd\xbb\xa7\xb6\xcb"
            "1"
            "\xd5\xfd\xd4\xda\xc1\xac\xbd\xd3");
  EXPECT_EQ(expand_message(encode_message_template("#{n}: {{id}} \\xff", gbk), 7, 3),
            "#3: {id} \xff");
}

TEST(EncodeMessageTemplate, ABraceInsideAnEncodedCharacterIsNotAPlaceholder) {
  // 亄 is 0x81 0x7b in GBK: its second byte is '{', which must not start {id}.
  EXPECT_EQ(expand_message(encode_message_template("亄id}", TextEncoding::named("gbk")), 7, 1),
            "\x81{id}");
}

TEST(EncodeMessageTemplate, Utf8TemplatesExpandAsTyped) {
  for (const char* typed : {"client {id} says hi #{n}", "{{id}} {x} {", "}}", "", "a\\tb"}) {
    EXPECT_EQ(expand_message(encode_message_template(typed, TextEncoding()), 5, 2),
              expand_message(decode_reply_escapes(typed), 5, 2))
        << typed;
  }
}

TEST(EncodeMessageTemplate, ACharacterTheEncodingLacksIsNamed) {
  try {
    (void)encode_message_template("客户端{id}正在连接", TextEncoding::named("iso-8859-1"));
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "cannot encode '客' (U+5BA2), character 1, in ISO-8859-1");
  }
}

}  // namespace
}  // namespace tcp_server::client
