// The --reply decoder either decodes or throws std::invalid_argument; nothing else. The same
// holds for encoding a reply to each clients' encoding, whose escapes stay raw bytes.
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "tcp_server/reply_text.hpp"

namespace {

constexpr const char* kEncodings[] = {"GBK",    "GB18030",     "BIG5",       "SHIFT_JIS",
                                      "EUC-KR", "ISO-2022-JP", "ISO-8859-1", "UTF-8"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  bool decodes = false;
  try {
    const auto decoded = tcp_server::decode_reply_escapes(text);
    if (decoded.size() > size) __builtin_trap();
    decodes = true;
  } catch (const std::invalid_argument&) {
  }
  static const auto* const encodings = [] {
    auto* made = new std::vector<tcp_server::TextEncoding>;
    for (const char* name : kEncodings) made->push_back(tcp_server::TextEncoding::named(name));
    return made;
  }();
  for (const auto& encoding : *encodings) {
    try {
      const auto encoded = tcp_server::encode_reply_text(text, encoding);
      if (!decodes) __builtin_trap();  // a bad escape is bad in every encoding
      if (encoding.is_utf8() && encoded != tcp_server::decode_reply_escapes(text)) __builtin_trap();
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
