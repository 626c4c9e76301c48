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

// Walks text: each run of plain text goes to on_text with its offset, each escape's byte to
// on_byte. Throws std::invalid_argument for a bad escape, saying which and where.
template <typename OnText, typename OnByte>
void split_escapes(std::string_view text, OnText&& on_text, OnByte&& on_byte) {
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') continue;
    if (i > run) on_text(text.substr(run, i - run), run);
    const std::size_t at = i;
    if (++i == text.size()) {
      throw std::invalid_argument(fmt::format("lone backslash at offset {}", at));
    }
    switch (text[i]) {
      case 'n':
        on_byte('\n');
        break;
      case 'r':
        on_byte('\r');
        break;
      case 't':
        on_byte('\t');
        break;
      case '0':
        on_byte('\0');
        break;
      case '\\':
        on_byte('\\');
        break;
      case 'x': {
        const int high = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
        const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
        if (high < 0 || low < 0) {
          throw std::invalid_argument(
              fmt::format("\\x at offset {} needs two hex digits, as in \\x0a", at));
        }
        on_byte(static_cast<char>(high * 16 + low));
        i += 2;
        break;
      }
      default:
        throw std::invalid_argument(fmt::format("unknown escape \\{} at offset {}",
                                                escape_for_log(text.substr(i, 1), 1), at));
    }
    run = i + 1;
  }
  if (run < text.size()) on_text(text.substr(run), run);
}

}  // namespace

std::string decode_reply_escapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  split_escapes(
      text, [&out](std::string_view run, std::size_t) { out += run; },
      [&out](char byte) { out += byte; });
  return out;
}

std::string encode_reply_text(std::string_view text, const TextEncoding& encoding) {
  TextEncoder encoder(encoding);
  std::string out;
  out.reserve(text.size());
  split_escapes(
      text,
      [&](std::string_view run, std::size_t offset) {
        if (const auto at = encoder.append(out, run)) {
          throw std::invalid_argument(describe_unencodable(text, offset + *at, encoding));
        }
      },
      [&out](char byte) { out += byte; });
  return out;
}

}  // namespace tcp_server
