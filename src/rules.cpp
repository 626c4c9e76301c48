#include "tcp_server/rules.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "tcp_server/duration.hpp"
#include "tcp_server/log_format.hpp"
#include "tcp_server/reply_text.hpp"

namespace tcp_server {
namespace {

constexpr std::string_view kSeparator = " => ";
constexpr std::string_view kDelay = "!delay ";
// $0..$9: the whole match and nine groups.
constexpr int kMaxGroup = 9;
// A rules file is written by hand; anything this big is the wrong file (or /dev/zero).
constexpr std::size_t kMaxFileSize = 16 * 1024 * 1024;

// One piece of a reply: encoded literal bytes, or what to insert at match time.
struct Piece {
  enum class Kind { kLiteral, kGroup, kNumber, kPeer };
  Kind kind = Kind::kLiteral;
  std::string literal;  // kLiteral: bytes in the clients' encoding
  int group = 0;        // kGroup: 0 is the whole message
};

class LineError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void refuse(std::string reason) {
  throw LineError(std::move(reason));
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// The reply text (escapes, encoding, $ expansions) as pieces; max_group is the highest group
// it names (-1 for none).
std::vector<Piece> parse_reply(std::string_view text, const TextEncoding& encoding,
                               int& max_group) {
  // Escapes first, over the whole text, so an error names its offset in the action. No escape
  // contains '$', so once they are valid every '$' below starts an expansion.
  try {
    (void)decode_reply_escapes(text);
  } catch (const std::invalid_argument& error) {
    refuse(fmt::format("bad escape in the action: {}", error.what()));
  }
  std::vector<Piece> pieces;
  std::string literal;
  const auto add_literal = [&](std::string_view run, std::size_t column) {
    try {
      literal += encode_reply_text(run, encoding);
    } catch (const std::invalid_argument& error) {
      refuse(fmt::format("in the action from offset {}: {}", column, error.what()));
    }
  };
  const auto flush_literal = [&] {
    if (literal.empty()) return;
    pieces.push_back({Piece::Kind::kLiteral, std::exchange(literal, {}), 0});
  };
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') continue;
    if (i > run) add_literal(text.substr(run, i - run), run);
    const std::string_view rest = text.substr(i + 1);
    if (rest.starts_with('$')) {
      literal += '$';
      run = i + 2;
      ++i;
      continue;
    }
    if (!rest.empty() && rest[0] >= '0' && rest[0] <= '9') {
      flush_literal();
      const int group = rest[0] - '0';
      max_group = std::max(max_group, group);
      pieces.push_back({Piece::Kind::kGroup, {}, group});
      run = i + 2;
      ++i;
      continue;
    }
    if (rest.starts_with("{n}")) {
      flush_literal();
      pieces.push_back({Piece::Kind::kNumber, {}, 0});
      run = i + 4;
      i += 3;
      continue;
    }
    if (rest.starts_with("{peer}")) {
      flush_literal();
      pieces.push_back({Piece::Kind::kPeer, {}, 0});
      run = i + 7;
      i += 6;
      continue;
    }
    refuse(fmt::format(
        "'$' at offset {} of the action is not $0..$9, ${{n}}, ${{peer}} or $$ (a dollar)", i));
  }
  if (run < text.size()) add_literal(text.substr(run), run);
  flush_literal();
  return pieces;
}

// Under a non-UTF-8 encoding regexes match bytes; a non-ASCII character in one would match its
// UTF-8 bytes, which such a client never sends.
void require_ascii_regex(std::string_view regex, const TextEncoding& encoding) {
  const auto it = std::find_if(regex.begin(), regex.end(),
                               [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  if (it == regex.end()) return;
  refuse(fmt::format(
      "under --encoding {} regexes match bytes and must be ASCII: {} at offset "
      "{} (write the bytes the client sends as \\xHH)",
      encoding.name(), escape_for_log(std::string_view(&*it, 1), 1), it - regex.begin()));
}

std::string describe_errno(int error) {
  return std::error_code(error, std::generic_category()).message();
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

struct RuleSet::Rule {
  std::unique_ptr<RE2> regex;
  RuleMatch match;
  std::vector<Piece> reply;
  // How many submatches RE2 must report: 0 (a yes/no, the DFA alone) unless the reply names a
  // group.
  int submatches = 0;
};

RuleSet::RuleSet() = default;
RuleSet::RuleSet(RuleSet&&) noexcept = default;
RuleSet& RuleSet::operator=(RuleSet&&) noexcept = default;
RuleSet::~RuleSet() = default;

std::size_t RuleSet::size() const noexcept {
  return rules_.size();
}

RuleSet RuleSet::parse(std::string_view text, std::string_view file_name,
                       const TextEncoding& encoding) {
  RE2::Options options;
  // A bad pattern is reported in the exception; RE2 must not also print to stderr.
  options.set_log_errors(false);
  if (!encoding.is_utf8()) options.set_encoding(RE2::Options::EncodingLatin1);

  // Windows editors start a UTF-8 file with a byte order mark; it is not part of the first regex.
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  RuleSet set;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    try {
      const std::size_t separator = line.find(kSeparator);
      if (separator == std::string_view::npos) {
        refuse("no \" => \" (a rule is REGEX => ACTION)");
      }
      // Blanks before the arrow line the arrows up ("PING      => PONG"); a regex that must
      // end in a space writes it [ ] or \x20.
      std::string_view pattern = line.substr(0, separator);
      while (is_blank(pattern.back())) pattern.remove_suffix(1);
      std::string_view action = line.substr(separator + kSeparator.size());
      if (!encoding.is_utf8()) require_ascii_regex(pattern, encoding);

      auto rule = std::make_unique<Rule>();
      rule->regex =
          std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
      if (!rule->regex->ok()) {
        refuse(fmt::format("bad regex: {}", escape_for_log(rule->regex->error(), 200)));
      }

      if (action.starts_with(kDelay)) {
        action.remove_prefix(kDelay.size());
        const std::size_t space = action.find(' ');
        const std::string_view duration = action.substr(0, space);
        const auto delay = parse_duration(duration);
        if (!delay) {
          refuse(fmt::format("bad duration '{}' after !delay (e.g. 250ms, 1.5s, 2m)",
                             escape_for_log(duration, 40)));
        }
        if (space == std::string_view::npos || space + 1 == action.size()) {
          refuse("nothing after !delay DURATION (e.g. !delay 1s !close, !delay 1s text)");
        }
        rule->match.delay = *delay;
        action.remove_prefix(space + 1);
      } else if (action == "!delay") {
        refuse("!delay needs a duration and an action (e.g. !delay 1s !close)");
      }
      if (action.empty()) refuse("empty action after \" => \" (use !silent to send nothing)");

      std::string_view reply_text = action;
      if (action.starts_with('!')) {
        const std::size_t space = action.find(' ');
        const std::string_view verb = action.substr(0, space);
        const std::string_view after =
            space == std::string_view::npos ? std::string_view() : action.substr(space + 1);
        if (verb == "!close") {
          rule->match.verb = RuleVerb::kClose;
        } else if (verb == "!reset") {
          rule->match.verb = RuleVerb::kReset;
        } else if (verb == "!silent") {
          rule->match.verb = RuleVerb::kSilent;
        } else if (verb == "!delay") {
          refuse("!delay twice");
        } else {
          refuse(fmt::format(
              "unknown action '{}' (!close, !reset, !silent, !delay; a reply starting with '!' "
              "writes it \\x21)",
              escape_for_log(verb, 40)));
        }
        if (space != std::string_view::npos && rule->match.verb != RuleVerb::kClose) {
          refuse(fmt::format("{} takes no text", verb));
        }
        reply_text = after;
      }
      int max_group = -1;
      rule->reply = parse_reply(reply_text, encoding, max_group);
      const int groups = rule->regex->NumberOfCapturingGroups();
      if (max_group > groups) {
        refuse(fmt::format("${} but the regex has {} capture group{}", max_group, groups,
                           groups == 1 ? "" : "s"));
      }
      rule->submatches = max_group > 0 ? max_group + 1 : 0;
      set.rules_.push_back(std::move(rule));
    } catch (const LineError& error) {
      throw std::runtime_error(fmt::format("{}:{}: {}", file_name, line_number, error.what()));
    }
  }
  if (set.rules_.empty()) {
    throw std::runtime_error(
        fmt::format("{}: no rules (each rule is a line REGEX => ACTION)", file_name));
  }
  return set;
}

RuleSet RuleSet::load(const std::string& path, const TextEncoding& encoding) {
  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw std::runtime_error(fmt::format("{}: {}", path, describe_errno(errno)));
  std::string text;
  std::array<char, 8192> chunk;
  for (;;) {
    const std::size_t got = std::fread(chunk.data(), 1, chunk.size(), file.get());
    text.append(chunk.data(), got);
    if (text.size() > kMaxFileSize) {
      throw std::runtime_error(
          fmt::format("{}: larger than {} MiB, not a rules file", path, kMaxFileSize >> 20));
    }
    if (got == chunk.size()) continue;
    // A directory opens, then fails to read with EISDIR.
    if (std::ferror(file.get())) {
      throw std::runtime_error(fmt::format("{}: {}", path, describe_errno(errno)));
    }
    break;
  }
  return parse(text, path, encoding);
}

std::optional<RuleMatch> RuleSet::match(std::string_view message, std::uint64_t number,
                                        std::string_view peer, std::string& reply) const {
  reply.clear();
  const re2::StringPiece text(message.data(), message.size());
  std::array<re2::StringPiece, kMaxGroup + 1> groups;
  for (const auto& rule : rules_) {
    if (!rule->regex->Match(text, 0, text.size(), RE2::ANCHOR_BOTH, groups.data(),
                            rule->submatches)) {
      continue;
    }
    for (const Piece& piece : rule->reply) {
      switch (piece.kind) {
        case Piece::Kind::kLiteral:
          reply += piece.literal;
          break;
        case Piece::Kind::kGroup:
          if (piece.group == 0) {
            reply += message;
          } else if (groups[piece.group].data() != nullptr) {
            // A group that took no part in the match is null: it inserts nothing.
            reply.append(groups[piece.group].data(), groups[piece.group].size());
          }
          break;
        case Piece::Kind::kNumber: {
          std::array<char, 24> digits;
          const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), number).ptr;
          reply.append(digits.data(), end);
          break;
        }
        case Piece::Kind::kPeer:
          reply += peer;
          break;
      }
    }
    return rule->match;
  }
  return std::nullopt;
}

}  // namespace tcp_server
