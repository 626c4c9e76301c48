// A rules file is either parsed or refused with std::runtime_error naming the file (and line);
// nothing else. A parsed set then answers a message without crashing, taking the file's own
// lines as messages.
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tcp_server/rules.hpp"

namespace {

void parse_and_match(std::string_view text, const tcp_server::TextEncoding& encoding) {
  constexpr std::string_view kFileName = "fuzz.rules";
  try {
    const auto rules = tcp_server::RuleSet::parse(text, kFileName, encoding);
    if (rules.size() == 0) __builtin_trap();  // an empty set is refused, never returned
    std::string reply;
    std::size_t start = 0;
    for (int lines = 0; lines < 4 && start <= text.size(); ++lines) {
      const std::size_t end = std::min(text.find('\n', start), text.size());
      (void)rules.match(text.substr(start, end - start), 1, "[::1]:9", reply);
      start = end + 1;
    }
  } catch (const std::runtime_error& error) {
    if (!std::string_view(error.what()).starts_with(kFileName)) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const auto* const gbk =
      new tcp_server::TextEncoding(tcp_server::TextEncoding::named("gbk"));
  parse_and_match(text, tcp_server::TextEncoding());
  parse_and_match(text, *gbk);
  return 0;
}
