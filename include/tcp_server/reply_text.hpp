#pragma once

#include <string>
#include <string_view>

#include "tcp_server/text_encoding.hpp"

namespace tcp_server {

// Turns the --reply option's text into bytes, understanding the escapes
// \n \r \t \0 \\ and \xHH (exactly two hex digits). Any other backslash sequence, or a
// trailing lone backslash, throws std::invalid_argument whose what() says which escape and
// where, e.g. "unknown escape \q at offset 3".
std::string decode_reply_escapes(std::string_view text);

// Text the server sends (--reply, --reject-message) as bytes in the clients' encoding: the text
// between escapes is encoded to encoding, and each escape places the byte it names, raw, after
// encoding (so \xa1 is the byte 0xa1 in any encoding). For UTF-8 this is
// decode_reply_escapes. Throws std::invalid_argument for a bad escape (as decode_reply_escapes)
// or a character the encoding lacks (describe_unencodable's sentence, counting characters of
// text as given).
std::string encode_reply_text(std::string_view text, const TextEncoding& encoding);

}  // namespace tcp_server
