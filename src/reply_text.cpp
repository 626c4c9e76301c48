#include "tcp_server/reply_text.hpp"

#include <fmt/format.h>

#include "tcp_server/log_format.hpp"

#include <stdexcept>

namespace tcp_server {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string decode_reply_escapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    const std::size_t at = i;
    if (++i == text.size()) {
      throw std::invalid_argument(fmt::format("lone backslash at offset {}", at));
    }
    switch (text[i]) {
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case '0':
        out += '\0';
        break;
      case '\\':
        out += '\\';
        break;
      case 'x': {
        const int high = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
        const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
        if (high < 0 || low < 0) {
          throw std::invalid_argument(
              fmt::format("\\x at offset {} needs two hex digits, as in \\x0a", at));
        }
        out += static_cast<char>(high * 16 + low);
        i += 2;
        break;
      }
      default:
        throw std::invalid_argument(fmt::format("unknown escape \\{} at offset {}",
                                                escape_for_log(text.substr(i, 1), 1), at));
    }
  }
  return out;
}

}  // namespace tcp_server
