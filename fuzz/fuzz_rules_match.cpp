// A fixed rule set against arbitrary messages: a rule always answers (the last one matches
// everything), and the replies built from captures hold exactly the message's bytes. Each
// reply starts with its rule's own literal, so the reply says which rule answered.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "tcp_server/rules.hpp"

namespace {

constexpr std::string_view kRules =
    "# a PING/GET/QUIT script and the patterns that hurt backtracking engines\n"
    "PING => PONG\n"
    "GET (\\w+)(?: (\\d+))? => VALUE $1 [$2] ${n} ${peer}\\r\\n\n"
    "(a+)+$ => !delay 5ms many a\n"
    "(x+x+)+y => !silent\n"
    "QUIT => !close BYE\n"
    "RESET => !reset\n"
    "(?s)(.)(.*)(.) => swap:$3$2$1\n"
    "(\\C*) => echo:$1\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto* const rules = new tcp_server::RuleSet(
      tcp_server::RuleSet::parse(kRules, "fuzz.rules", tcp_server::TextEncoding()));
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  std::string reply = "stale";
  const auto match = rules->match(message, 42, "127.0.0.1:1", reply);
  if (!match) __builtin_trap();  // the catch-all matches every message
  if (reply.starts_with("echo:") && reply != "echo:" + std::string(message)) __builtin_trap();
  if (reply.starts_with("swap:")) {
    // The first and last characters swapped: the same bytes in another order.
    std::string sent(message);
    std::string swapped = reply.substr(5);
    std::sort(sent.begin(), sent.end());
    std::sort(swapped.begin(), swapped.end());
    if (sent != swapped) __builtin_trap();
  }
  if (reply.size() > message.size() + 64) __builtin_trap();
  return 0;
}
