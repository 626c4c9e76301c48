#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcp_server/text_encoding.hpp"

namespace tcp_server {

// What a matching rule says to do with the message.
enum class RuleVerb {
  kReply,   // send the reply
  kClose,   // send the reply (possibly empty), then close the connection (FIN)
  kReset,   // close the connection with a reset (RST), sending nothing
  kSilent,  // send nothing; the connection stays open
};

struct RuleMatch {
  RuleVerb verb = RuleVerb::kReply;
  std::chrono::milliseconds delay{0};  // wait this long before carrying out the verb
};

// The --rules file: one rule per line, `REGEX => ACTION`, the first rule whose regex matches the
// whole message wins. Regexes are RE2's (linear time in the message whatever the pattern, with
// no recursion, so a hostile line cannot exhaust a connection thread's stack or a CPU, as
// std::regex's backtracking can).
//
// Format (README, "Scripted replies: --rules"):
// - Blank lines and lines whose first non-blank character is `#` are ignored (a later `#` is
//   part of the rule); leading blanks and a trailing '\r' are dropped. The regex is everything
//   before the FIRST " => " (space, arrow, space) less trailing blanks (so arrows may be lined
//   up; a regex ending in a space writes it `[ ]`), the action everything after it, as written.
//   A regex that must match " => " writes it without that exact text, e.g. ` =[>] `.
// - The regex matches the whole message (as RE2::FullMatch: no ^...$ needed). Under UTF-8
//   (the default encoding) `.` is one UTF-8 character, and bytes that are not UTF-8 are matched
//   only by `\C`. Under another --encoding regexes match bytes (RE2's Latin-1 mode) and must be
//   ASCII: `\xHH` names a byte.
// - ACTION: reply text with --reply's escapes (\n \r \t \0 \\ \xHH), encoded to the clients'
//   encoding, and `$0` (the whole message), `$1`..`$9` (capture groups; one digit, so `$10` is
//   `$1` then `0`; empty when the group took no part in the match), `${n}` (the message number,
//   1 for a connection's first), `${peer}` (the client, as given to match()), `$$` (a `$`).
//   Captures and the peer are inserted as received, never re-encoded.
//   Or a verb: `!close` (optionally `!close TEXT`: send TEXT, then close), `!reset`, `!silent`.
//   Any action may start with `!delay DURATION ` (e.g. `!delay 250ms !close`, `!delay 1s hi`).
//   A reply that must start with `!` writes it `\x21`.
// - A bad file throws std::runtime_error "file:line: reason" (bad regex with RE2's error, a
//   missing " => ", an empty action, an unknown !verb, a bad duration, `$7` with fewer groups,
//   a bad escape, a character the encoding lacks); a file without rules is refused too.
//
// The reply is the text as the rule writes it: the caller ends it as it ends --reply (in line
// framing a '\n' follows a non-empty reply unless it already ends with one).
//
// Thread safety: const member functions may be called from any number of threads at once.
class RuleSet {
 public:
  // Throws std::runtime_error "file_name:line: reason".
  static RuleSet parse(std::string_view text, std::string_view file_name,
                       const TextEncoding& encoding);
  // Reads and parses the file; an unreadable one throws std::runtime_error "path: reason".
  static RuleSet load(const std::string& path, const TextEncoding& encoding);

  RuleSet(RuleSet&&) noexcept;
  RuleSet& operator=(RuleSet&&) noexcept;
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;
  ~RuleSet();

  // The number of rules.
  [[nodiscard]] std::size_t size() const noexcept;

  // The first rule whose regex matches the whole message, or nullopt when none does. reply is
  // cleared, then (kReply, kClose) holds the expanded reply; with no allocation once its
  // capacity suffices (the regex engine's own caches aside, see bench/rules_bench).
  std::optional<RuleMatch> match(std::string_view message, std::uint64_t number,
                                 std::string_view peer, std::string& reply) const;

 private:
  struct Rule;
  RuleSet();
  std::vector<std::unique_ptr<Rule>> rules_;
};

}  // namespace tcp_server
