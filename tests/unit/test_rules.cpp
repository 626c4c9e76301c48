#include "tcp_server/rules.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tcp_server {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kPeer = "127.0.0.1:51528";

// What match() answered, in one comparable value: the verb, the delay and the reply.
struct Outcome {
  std::optional<RuleVerb> verb;
  milliseconds delay{0};
  std::string reply;

  friend bool operator==(const Outcome&, const Outcome&) = default;
  friend std::ostream& operator<<(std::ostream& out, const Outcome& outcome) {
    out << "verb=";
    if (outcome.verb) {
      out << static_cast<int>(*outcome.verb);
    } else {
      out << "none";
    }
    return out << " delay=" << outcome.delay.count() << "ms reply='" << outcome.reply << "'";
  }
};

Outcome outcome_of(const RuleSet& rules, std::string_view message, std::uint64_t number = 1) {
  std::string reply = "left over from the last message";
  const auto match = rules.match(message, number, kPeer, reply);
  if (!match) return {std::nullopt, milliseconds(0), reply};
  return {match->verb, match->delay, reply};
}

Outcome reply(std::string text) {
  return {RuleVerb::kReply, milliseconds(0), std::move(text)};
}
Outcome no_match() {
  return {std::nullopt, milliseconds(0), ""};
}

struct MatchCase {
  const char* name;
  std::string rules;
  std::string message;
  std::uint64_t number;
  Outcome expected;
};

class RuleMatching : public testing::TestWithParam<MatchCase> {};

TEST_P(RuleMatching, AnswersAsTheFirstMatchingRuleSays) {
  const MatchCase& test = GetParam();
  const RuleSet rules = RuleSet::parse(test.rules, "test.rules", TextEncoding());
  EXPECT_EQ(outcome_of(rules, test.message, test.number), test.expected);
}

const std::string kScript =
    "# a PING/GET/QUIT script\n"
    "\n"
    "PING => PONG\n"
    "GET (\\w+) => VALUE $1 for ${peer}, message ${n}\n"
    "   # an indented comment\n"
    "QUIT => !close BYE\n"
    "RESET => !reset\n"
    "IGNORE.* => !silent\n"
    "SLOW (\\d+) => !delay 250ms slow $1\n"
    "HANG => !delay 1.5s !close\n"
    ".* => catch-all\n";

INSTANTIATE_TEST_SUITE_P(
    Table, RuleMatching,
    testing::Values(
        MatchCase{"Literal", kScript, "PING", 1, reply("PONG")},
        MatchCase{"CaptureNumberAndPeer", kScript, "GET key", 7,
                  reply("VALUE key for 127.0.0.1:51528, message 7")},
        MatchCase{"CloseWithText", kScript, "QUIT", 1, {RuleVerb::kClose, milliseconds(0), "BYE"}},
        MatchCase{"Reset", kScript, "RESET", 1, {RuleVerb::kReset, milliseconds(0), ""}},
        MatchCase{"Silent", kScript, "IGNORE me", 1, {RuleVerb::kSilent, milliseconds(0), ""}},
        MatchCase{"DelayedReply",
                  kScript,
                  "SLOW 42",
                  1,
                  {RuleVerb::kReply, milliseconds(250), "slow 42"}},
        MatchCase{"DelayedClose", kScript, "HANG", 1, {RuleVerb::kClose, milliseconds(1500), ""}},
        // The regex must match the whole message, not a part of it.
        MatchCase{"WholeMessageOnly", kScript, "PING PING", 1, reply("catch-all")},
        MatchCase{"WholeMessageNoPrefix", "PING => PONG\n", "xPING", 1, no_match()},
        MatchCase{"WholeMessageAlternation", "a|ab => yes\n", "ab", 1, reply("yes")},
        MatchCase{"NoRuleMatches", "PING => PONG\n", "PONG", 1, no_match()},
        MatchCase{"FirstMatchWins", "P.* => first\nPING => second\n", "PING", 1, reply("first")},
        MatchCase{"EmptyMessage", "x* => empty $0.\n", "", 1, reply("empty .")},
        MatchCase{"WholeMessageGroup", "(a)(b)? => [$0][$1][$2]\n", "a", 1, reply("[a][a][]")},
        MatchCase{"AllNineGroups", "(1)(2)(3)(4)(5)(6)(7)(8)(9) => $9$8$7$6$5$4$3$2$1$10\n",
                  "123456789", 1,
                  reply("9876543211"
                        "0")},
        MatchCase{"Dollars", "x => $$1 costs $${n}\n", "x", 1, reply("$1 costs ${n}")},
        MatchCase{"Escapes", "x => +OK\\r\\n\\x21\\t\\\\$$\n", "x", 1, reply("+OK\r\n!\t\\$")},
        MatchCase{"EscapedDollarIsLiteral", "(x) => \\x241\n", "x", 1, reply("$1")},
        MatchCase{"CrlfFile", "PING => PONG\r\nx => y\r\n", "PING", 1, reply("PONG")},
        MatchCase{"ActionKeepsItsSpaces", "x =>   a b  \n", "x", 1, reply("  a b  ")},
        MatchCase{"FirstSeparatorSplits", "a => b => c\n", "a", 1, reply("b => c")},
        MatchCase{"SeparatorInRegexWrittenOtherwise", "a =[>] b => yes\n", "a => b", 1,
                  reply("yes")},
        MatchCase{"ArrowsLinedUp", "PING      => PONG\nGET (\\w+) => got $1\n", "PING", 1,
                  reply("PONG")},
        MatchCase{"RegexEndingInASpace", "PING[ ] => spaced\nPING => plain\n", "PING ", 1,
                  reply("spaced")},
        MatchCase{"ByteOrderMarkIgnored", "\xEF\xBB\xBFPING => PONG\n", "PING", 1, reply("PONG")},
        MatchCase{"NoTrailingNewlineAtEnd", "x => y", "x", 1, reply("y")},
        MatchCase{"Utf8Regex", "你(.)吗 => 是$1\n", "你好吗", 1, reply("是好")},
        MatchCase{"CapturesAreBytesAsReceived", "(\\C*) => <$1>\n", "a\xff", 1, reply("<a\xff>")},
        MatchCase{"HexInAUtf8RegexIsACharacter", "\\xe9 => e acute\n", "\xc3\xa9", 1,
                  reply("e acute")},
        MatchCase{"DotIsNotAnInvalidByte", "(.*) => any\n", "a\xff", 1, no_match()},
        MatchCase{"CaseInsensitiveFlag", "(?i)ping => PONG\n", "PiNg", 1, reply("PONG")},
        MatchCase{"LargeNumber", "x => ${n}\n", "x", 18446744073709551615ULL,
                  reply("18446744073709551615")}),
    [](const testing::TestParamInfo<MatchCase>& test) { return test.param.name; });

TEST(RuleSet, CountsRulesNotCommentsOrBlankLines) {
  EXPECT_EQ(RuleSet::parse(kScript, "test.rules", TextEncoding()).size(), 8U);
}

TEST(RuleSet, ReplyIsEncodedToTheClientsEncodingAndCapturesAreNot) {
  const TextEncoding gbk = TextEncoding::named("gbk");
  const RuleSet rules = RuleSet::parse("GET (.*) => 好 $1\\xff\n", "gbk.rules", gbk);
  // The reply text becomes GBK (好 is BA C3); the capture is the client's bytes as sent.
  EXPECT_EQ(outcome_of(rules, "GET \xc4\xe3"), reply("\xba\xc3 \xc4\xe3\xff"));
}

TEST(RuleSet, UnderANonUtf8EncodingRegexesMatchBytes) {
  const TextEncoding gbk = TextEncoding::named("gbk");
  // 你 in GBK is C4 E3: one character to the client, two bytes to the regex.
  const RuleSet rules = RuleSet::parse("\\xc4\\xe3(..) => yes $1\n", "gbk.rules", gbk);
  EXPECT_EQ(outcome_of(rules, "\xc4\xe3\xba\xc3"), reply("yes \xba\xc3"));
}

TEST(RuleSet, MatchReusesTheCallersReplyBuffer) {
  const RuleSet rules = RuleSet::parse("(.*) => echo $1\n", "test.rules", TextEncoding());
  std::string buffer;
  buffer.reserve(64);
  const char* const storage = buffer.data();
  ASSERT_TRUE(rules.match("one", 1, kPeer, buffer));
  EXPECT_EQ(buffer, "echo one");
  ASSERT_TRUE(rules.match("two", 2, kPeer, buffer));
  EXPECT_EQ(buffer, "echo two");
  EXPECT_EQ(buffer.data(), storage);
}

TEST(RuleSet, IsMovable) {
  RuleSet rules = RuleSet::parse("a => b\n", "test.rules", TextEncoding());
  RuleSet moved = std::move(rules);
  EXPECT_EQ(outcome_of(moved, "a"), reply("b"));
}

// One RuleSet serves every connection thread; under TSan this also checks that matching shares
// nothing mutable but RE2's own (locked) caches.
TEST(RuleSet, MatchesFromManyThreadsAtOnce) {
  const RuleSet rules = RuleSet::parse(kScript, "test.rules", TextEncoding());
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&rules, &wrong, t] {
      std::string reply;
      for (int i = 0; i < 500; ++i) {
        const std::string key = "k" + std::to_string(t) + "_" + std::to_string(i);
        const auto match = rules.match("GET " + key, static_cast<std::uint64_t>(i), kPeer, reply);
        const std::string expected =
            "VALUE " + key + " for 127.0.0.1:51528, message " + std::to_string(i);
        if (!match || reply != expected) ++wrong[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

// A pattern that backtracking engines take exponential time (and stack) on; RE2 answers in
// linear time (bench/rules_bench measures it).
TEST(RuleSet, CatastrophicPatternOnA64KiBLineAnswersCorrectly) {
  const RuleSet rules =
      RuleSet::parse("(a+)+$ => all a\n(a+)+b => a then b\n", "test.rules", TextEncoding());
  const std::string as(64 * 1024, 'a');
  EXPECT_EQ(outcome_of(rules, as), reply("all a"));
  EXPECT_EQ(outcome_of(rules, as + "b"), reply("a then b"));
  EXPECT_EQ(outcome_of(rules, as + "c"), no_match());
}

struct BadFileCase {
  const char* name;
  std::string rules;
  std::string error;
  TextEncoding encoding = TextEncoding();
};

class BadRulesFile : public testing::TestWithParam<BadFileCase> {};

TEST_P(BadRulesFile, IsRefusedWithFileLineAndReason) {
  const BadFileCase& test = GetParam();
  try {
    (void)RuleSet::parse(test.rules, "my.rules", test.encoding);
    ADD_FAILURE() << "parsed without an error";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), test.error);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadRulesFile,
    testing::Values(
        BadFileCase{"BadRegex", "# ok\nPING => PONG\n(a => x\n",
                    "my.rules:3: bad regex: missing ): (a"},
        BadFileCase{"MissingSeparator", "PING => PONG\nPING PONG\n",
                    "my.rules:2: no \" => \" (a rule is REGEX => ACTION)"},
        BadFileCase{"SeparatorWithoutSpaces", "PING=>PONG\n",
                    "my.rules:1: no \" => \" (a rule is REGEX => ACTION)"},
        BadFileCase{"EmptyAction", "PING => \n",
                    "my.rules:1: empty action after \" => \" (use !silent to send nothing)"},
        BadFileCase{"EmptyRegex", "\t => x\n",
                    "my.rules:1: no \" => \" (a rule is REGEX => ACTION)"},
        BadFileCase{"UnknownVerb", "\n\nPING => !explode\n",
                    "my.rules:3: unknown action '!explode' (!close, !reset, !silent, !delay; a "
                    "reply starting with '!' writes it \\x21)"},
        BadFileCase{"VerbWithText", "PING => !reset now\n", "my.rules:1: !reset takes no text"},
        BadFileCase{"BadDuration", "PING => !delay soon !close\n",
                    "my.rules:1: bad duration 'soon' after !delay (e.g. 250ms, 1.5s, 2m)"},
        BadFileCase{"NegativeDuration", "PING => !delay -1s !close\n",
                    "my.rules:1: bad duration '-1s' after !delay (e.g. 250ms, 1.5s, 2m)"},
        BadFileCase{"DelayWithoutAction", "PING => !delay 1s\n",
                    "my.rules:1: nothing after !delay DURATION (e.g. !delay 1s !close, !delay 1s "
                    "text)"},
        BadFileCase{"DelayAlone", "PING => !delay\n",
                    "my.rules:1: !delay needs a duration and an action (e.g. !delay 1s !close)"},
        BadFileCase{"DelayTwice", "PING => !delay 1s !delay 2s x\n", "my.rules:1: !delay twice"},
        BadFileCase{"GroupBeyondTheRegex", "(a)(b) => $1 $7\n",
                    "my.rules:1: $7 but the regex has 2 capture groups"},
        BadFileCase{"GroupWithoutGroups", "ab => $1\n",
                    "my.rules:1: $1 but the regex has 0 capture groups"},
        BadFileCase{"LoneDollar", "a => cost $\n",
                    "my.rules:1: '$' at offset 5 of the action is not $0..$9, ${n}, ${peer} or $$ "
                    "(a dollar)"},
        BadFileCase{"UnknownExpansion", "a => ${name}\n",
                    "my.rules:1: '$' at offset 0 of the action is not $0..$9, ${n}, ${peer} or $$ "
                    "(a dollar)"},
        BadFileCase{"BadEscape", "a => x\\q\n",
                    "my.rules:1: bad escape in the action: unknown escape \\q at offset 1"},
        BadFileCase{"BadEscapeBeforeDollar", "(a) => x\\$1\n",
                    "my.rules:1: bad escape in the action: unknown escape \\$ at offset 1"},
        BadFileCase{"NoRules", "# only a comment\n\n",
                    "my.rules: no rules (each rule is a line "
                    "REGEX => ACTION)"},
        BadFileCase{"Empty", "", "my.rules: no rules (each rule is a line REGEX => ACTION)"},
        BadFileCase{"UnencodableReply", "a => 你\n",
                    "my.rules:1: in the action from offset 0: cannot encode '你' (U+4F60), "
                    "character 1, in ISO-8859-1",
                    TextEncoding::named("iso-8859-1")},
        BadFileCase{"NonAsciiRegexUnderAnotherEncoding", "你 => x\n",
                    "my.rules:1: under --encoding GBK regexes match bytes and must be ASCII: "
                    "\\xe4 at offset 0 (write the bytes the client sends as \\xHH)",
                    TextEncoding::named("gbk")},
        BadFileCase{"InvalidUtf8Regex", "\xff => x\n", "my.rules:1: bad regex: invalid UTF-8"},
        BadFileCase{"ControlBytesInErrorsAreEscaped", "(\x1b => x\n",
                    "my.rules:1: bad regex: missing ): (\\x1b"}),
    [](const testing::TestParamInfo<BadFileCase>& test) { return test.param.name; });

// A file on disk, removed at the end of the test.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string_view contents)
      : path_(std::filesystem::temp_directory_path() /
              ("test_rules_" + std::to_string(::getpid()) + "_" +
               testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::ofstream(path_) << contents;
  }
  ~TemporaryFile() { std::filesystem::remove(path_); }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  [[nodiscard]] std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(RuleSetLoad, ReadsTheFile) {
  const TemporaryFile file("PING => PONG\n");
  const RuleSet rules = RuleSet::load(file.path(), TextEncoding());
  EXPECT_EQ(outcome_of(rules, "PING"), reply("PONG"));
}

TEST(RuleSetLoad, ErrorsNameThePathAndLine) {
  const TemporaryFile file("PING => PONG\nPING\n");
  try {
    (void)RuleSet::load(file.path(), TextEncoding());
    ADD_FAILURE() << "loaded without an error";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()),
              file.path() + ":2: no \" => \" (a rule is REGEX => ACTION)");
  }
}

std::string load_error(const std::string& path) {
  try {
    (void)RuleSet::load(path, TextEncoding());
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "no error";
}

TEST(RuleSetLoad, UnreadableFileSaysWhy) {
  EXPECT_EQ(load_error("/nonexistent/my.rules"),
            "/nonexistent/my.rules: No such file or directory");
  const auto directory = std::filesystem::temp_directory_path().string();
  EXPECT_EQ(load_error(directory), directory + ": Is a directory");
}

}  // namespace
}  // namespace tcp_server
