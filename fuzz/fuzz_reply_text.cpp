// The --reply decoder either decodes or throws std::invalid_argument; nothing else.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "tcp_server/reply_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto decoded =
        tcp_server::decode_reply_escapes({reinterpret_cast<const char*>(data), size});
    if (decoded.size() > size) __builtin_trap();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
