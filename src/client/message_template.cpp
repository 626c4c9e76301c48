#include "message_template.hpp"

#include "tcp_server/reply_text.hpp"

namespace tcp_server::client {

std::string expand_message(std::string_view pattern, std::size_t id, std::size_t n) {
  std::string out;
  out.reserve(pattern.size() + 8);
  for (std::size_t i = 0; i < pattern.size();) {
    const std::string_view rest = pattern.substr(i);
    if (rest.starts_with("{id}")) {
      out += std::to_string(id);
      i += 4;
    } else if (rest.starts_with("{n}")) {
      out += std::to_string(n);
      i += 3;
    } else if (rest.starts_with("{{") || rest.starts_with("}}")) {
      out += rest[0];
      i += 2;
    } else {
      out += rest[0];
      ++i;
    }
  }
  return out;
}

std::string encode_message_template(std::string_view typed, const TextEncoding& encoding) {
  // The whole text first, so an error counts characters of the template as typed.
  (void)encode_reply_text(typed, encoding);
  std::string out;
  std::string text;  // typed text since the last placeholder, "{{" and "}}" made single
  const auto end_text = [&] {
    for (const char byte : encode_reply_text(text, encoding)) {
      out += byte;
      if (byte == '{' || byte == '}') out += byte;
    }
    text.clear();
  };
  for (std::size_t i = 0; i < typed.size();) {
    const std::string_view rest = typed.substr(i);
    if (rest.starts_with("{id}") || rest.starts_with("{n}")) {
      end_text();
      const std::size_t length = rest.starts_with("{id}") ? 4 : 3;
      out += rest.substr(0, length);
      i += length;
    } else if (rest.starts_with("{{") || rest.starts_with("}}")) {
      text += rest[0];
      i += 2;
    } else {
      text += rest[0];
      ++i;
    }
  }
  end_text();
  return out;
}

}  // namespace tcp_server::client
