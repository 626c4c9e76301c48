// Arbitrary peer bytes through the log formatters: the result must never hold a raw control byte
// or invalid UTF-8, and must stay within its size bound.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tcp_server/log_format.hpp"

namespace {

constexpr const char* kEncodings[] = {"UTF-8",       "GBK",       "GB18030",    "BIG5",
                                      "BIG5-HKSCS",  "SHIFT_JIS", "CP932",      "EUC-JP",
                                      "ISO-2022-JP", "EUC-KR",    "ISO-8859-1", "CP1252"};

bool is_valid_utf8_without_controls(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x20 || lead == 0x7f) return false;
    std::size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (lead >= 0x80 && lead < 0xC2) return false;
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    // C1 controls must have been escaped.
    if (lead == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0) return false;
    i += length;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t max_bytes = data[0];
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  const std::string utf8 = tcp_server::escape_for_log(bytes, max_bytes);
  if (!is_valid_utf8_without_controls(utf8)) std::abort();
  if (utf8.size() > 10 * max_bytes + 32) std::abort();

  // --log-hex: the dump is several lines, none of which may hold a control byte or a byte past
  // ASCII, and each after the first must be an indented continuation, never a record of its own.
  std::string dump;
  tcp_server::append_hex_dump_for_log(dump, bytes, max_bytes, 0);
  if (dump.size() > 5 * max_bytes + 96) std::abort();
  for (std::size_t start = 0, line = 0; start <= dump.size(); ++line) {
    const std::size_t end = std::min(dump.find('\n', start), dump.size());
    const std::string_view text(dump.data() + start, end - start);
    for (const char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte >= 0x7f) std::abort();
    }
    if (line > 0 && text.substr(0, 2) != "  ") std::abort();
    start = end + 1;
  }
  std::string hex;
  tcp_server::append_hex_for_log(hex, bytes, max_bytes, 0);
  if (hex.size() > 2 * max_bytes + 32) std::abort();
  if (hex.find_first_not_of("0123456789abcdef.()+ bytes") != std::string::npos) std::abort();

  // The same bytes through the decoder of every encoding the README and tests name, stateful
  // (ISO-2022-JP) and holding characters back (BIG5-HKSCS) included.
  static auto* const formatters = [] {
    auto* made = new std::vector<tcp_server::PayloadFormatter>;
    for (const char* name : kEncodings) {
      made->emplace_back(tcp_server::TextEncoding::named(name), 64);
    }
    return made;
  }();
  std::string decoded;
  for (auto& formatter : *formatters) {
    formatter.format(decoded, bytes, 0);
    if (!is_valid_utf8_without_controls(decoded)) std::abort();
    // Each input byte becomes at most one "\\xNN" or one character of up to 4 bytes (or a
    // "\\u{NNNN}"), with the suffix on top.
    if (decoded.size() > 10 * 64 + 32) std::abort();
  }
  return 0;
}
