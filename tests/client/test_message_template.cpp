#include "message_template.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace tcp_server::client
