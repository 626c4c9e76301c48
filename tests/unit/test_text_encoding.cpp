#include "tcp_server/text_encoding.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace tcp_server {
namespace {

std::string refusal_of(std::string_view name) {
  try {
    (void)TextEncoding::named(name);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "accepted";
}

std::string error_of(std::string_view text, const TextEncoding& encoding) {
  try {
    (void)encode_text(text, encoding);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "no error";
}

TEST(TextEncoding, DefaultIsUtf8) {
  const TextEncoding encoding;
  EXPECT_TRUE(encoding.is_utf8());
  EXPECT_EQ(encoding.name(), "UTF-8");
}

TEST(TextEncoding, NamesAreTakenInAnyCaseAndUtf8InAnySpelling) {
  EXPECT_EQ(TextEncoding::named("gbk"), TextEncoding::named("GBK"));
  EXPECT_EQ(TextEncoding::named("gbk").name(), "GBK");
  EXPECT_FALSE(TextEncoding::named("gbk").is_utf8());
  for (const char* utf8 : {"utf-8", "UTF8", "utf8", "Utf_8"}) {
    EXPECT_EQ(TextEncoding::named(utf8), TextEncoding()) << utf8;
  }
}

TEST(TextEncoding, KnowsTheEncodingsOfTheTutorialsAndTheirNeighbours) {
  for (const char* name :
       {"GBK", "GB18030", "BIG5", "SHIFT_JIS", "EUC-KR", "ISO-8859-1", "EUC-JP", "CP1252"}) {
    EXPECT_EQ(refusal_of(name), "accepted") << name;
  }
}

TEST(TextEncoding, AnUnknownNameIsRefusedByName) {
  EXPECT_EQ(refusal_of("klingon"),
            "unknown encoding 'klingon' (iconv -l lists the ones this system knows)");
  EXPECT_EQ(refusal_of(""), "unknown encoding '' (iconv -l lists the ones this system knows)");
}

TEST(TextEncoding, EncodingsThatDoNotKeepAsciiOrAddIconvSuffixesAreRefused) {
  EXPECT_NE(refusal_of("UTF-16").find("does not keep ASCII as is"), std::string::npos)
      << refusal_of("UTF-16");
  EXPECT_NE(refusal_of("UTF-7").find("does not keep ASCII as is"), std::string::npos);
  // //TRANSLIT and //IGNORE would make iconv guess or drop characters silently.
  EXPECT_EQ(refusal_of("GBK//TRANSLIT"),
            "unknown encoding 'GBK//TRANSLIT' (iconv -l lists the ones this system knows)");
}

TEST(EncodeText, Utf8IsSentAsGivenEvenWhenItIsNotUtf8) {
  EXPECT_EQ(encode_text("ok,问题正在处理中...", TextEncoding()), "ok,问题正在处理中...");
  EXPECT_EQ(encode_text("\xff\xfe", TextEncoding()), "\xff\xfe");
}

TEST(EncodeText, TheTutorialReplyInGbkGb18030AndBig5) {
  EXPECT_EQ(encode_text("ok,问题正在处理中...", TextEncoding::named("gbk")),
            "ok,\xce\xca\xcc\xe2\xd5\xfd\xd4\xda\xb4\xa6\xc0\xed\xd6\xd0...");
  EXPECT_EQ(encode_text("已收到😀", TextEncoding::named("gb18030")),
            "\xd2\xd1\xca\xd5\xb5\xbd\x94\x39\xfc\x36");
  EXPECT_EQ(encode_text("問題正在處理中", TextEncoding::named("big5")),
            "\xb0\xdd\xc3\x44\xa5\xbf\xa6\x62\xb3\x42\xb2\x7a\xa4\xa4");
}

TEST(EncodeText, ACharacterTheEncodingLacksIsNamedWithItsPosition) {
  EXPECT_EQ(error_of("你好", TextEncoding::named("iso-8859-1")),
            "cannot encode '你' (U+4F60), character 1, in ISO-8859-1");
  EXPECT_EQ(error_of("ok,收到客户端信息", TextEncoding::named("big5")),
            "cannot encode '户' (U+6237), character 7, in BIG5");
  // A control character is named escaped, never raw.
  EXPECT_EQ(error_of("a\u202e", TextEncoding::named("gbk")),
            "cannot encode '\\u{202E}' (U+202E), character 2, in GBK");
}

TEST(EncodeText, BytesThatAreNotUtf8AreRefusedWhenTheyMustBeConverted) {
  EXPECT_EQ(error_of("ok\xff", TextEncoding::named("gbk")),
            "byte \\xff, character 3, is not UTF-8 (write raw bytes as \\xHH)");
}

TEST(EncodeText, StatefulEncodingsEndEachRunInTheirInitialState) {
  // ISO-2022-JP: ESC $ B switches to JIS X 0208, ESC ( B back to ASCII, so raw bytes appended
  // after a run are read as ASCII.
  EXPECT_EQ(encode_text("日", TextEncoding::named("iso-2022-jp")), "\x1b$BF|\x1b(B");
}

TEST(TextEncoder, ReportsWhereARunStopsAndKeepsWhatCameBefore) {
  TextEncoder encoder(TextEncoding::named("iso-8859-1"));
  std::string out;
  EXPECT_EQ(encoder.append(out, "café"), std::nullopt);
  EXPECT_EQ(out, "caf\xe9");
  EXPECT_EQ(encoder.append(out, "ok你"), 2u);
  EXPECT_EQ(out, "caf\xe9ok");
}

}  // namespace
}  // namespace tcp_server
