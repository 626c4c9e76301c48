#include <gtest/gtest.h>

#include "tls_client.hpp"

namespace tcp_server::client {
namespace {

constexpr const char* kUpper =
    "EE:9E:94:14:CA:52:11:59:50:19:84:C2:AB:A9:ED:10:95:9C:B5:76:1F:81:3D:1A:8E:56:5C:31:F6:55:8B:"
    "9E";

TEST(TlsFingerprint, ParsesWhatOpensslPrintsAndFormatsItBack) {
  const auto digest = parse_sha256_fingerprint(kUpper);
  ASSERT_TRUE(digest.has_value());
  EXPECT_EQ((*digest)[0], 0xEE);
  EXPECT_EQ((*digest)[31], 0x9E);
  EXPECT_EQ(format_fingerprint(*digest), kUpper);
}

TEST(TlsFingerprint, CaseAndColonsDoNotMatter) {
  const auto upper = parse_sha256_fingerprint(kUpper);
  const auto bare = parse_sha256_fingerprint(
      "ee9e9414ca52115950198"
      "4c2aba9ed10959cb5761f813d1a8e565c31f6558b9e");
  ASSERT_TRUE(upper.has_value());
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(*upper, *bare);
}

TEST(TlsFingerprint, RefusesAnythingElse) {
  const std::string bare(64, 'a');
  for (const std::string& text :
       {std::string(), std::string(62, 'a'), std::string(66, 'a'), std::string(63, 'a') + "g",
        ":" + bare, bare + ":", "aa::" + bare.substr(2), std::string("a:a") + bare.substr(2),
        "sha256:" + bare, bare.substr(0, 32) + " " + bare.substr(32)}) {
    EXPECT_FALSE(parse_sha256_fingerprint(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace tcp_server::client
