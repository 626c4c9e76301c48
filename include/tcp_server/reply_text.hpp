#pragma once

#include <string>
#include <string_view>

namespace tcp_server {

// Turns the --reply option's text into bytes, understanding the escapes
// \n \r \t \0 \\ and \xHH (exactly two hex digits). Any other backslash sequence, or a
// trailing lone backslash, throws std::invalid_argument whose what() says which escape and
// where, e.g. "unknown escape \q at offset 3".
std::string decode_reply_escapes(std::string_view text);

}  // namespace tcp_server
