#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tcp_server/text_encoding.hpp"

namespace tcp_server::client {

// Fills a --message template: "{id}" becomes the client's number, "{n}" the message's number
// (both from 1); "{{" and "}}" are literal braces; anything else is copied as is.
std::string expand_message(std::string_view pattern, std::size_t id, std::size_t n);

// The --message template as typed (UTF-8, escapes as in tcp_server's --reply) in the server's
// encoding, still a template for expand_message: {id} and {n} are found in the text as typed,
// the text around them is encoded and its escapes placed as raw bytes, and every brace byte
// that encoding or an escape produced is doubled, so a GBK or BIG5 character whose second byte
// is '{' never starts a placeholder. Throws std::invalid_argument as encode_reply_text.
std::string encode_message_template(std::string_view typed, const TextEncoding& encoding);

}  // namespace tcp_server::client
