// What SIGHUP swaps for --reply-file and --rules: LiveResponder's snapshots (open connections
// keep theirs, new ones get the new one, the seed stays), and the file reads shared by the
// command line and the reload (read_reply_file, load_rules_file).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tcp_server/live_responder.hpp"
#include "tcp_server/reply_files.hpp"
#include "temp_dir.hpp"

namespace tcp_server {
namespace {

using tcp_server::testing::TempDir;

const Endpoint kClient = *Endpoint::from_ip("192.0.2.7", 40000);

std::shared_ptr<const RuleSet> rules(std::string_view text) {
  return std::make_shared<const RuleSet>(RuleSet::parse(text, "t.rules", {}));
}

ServerConfig ack_config() {
  ServerConfig config;
  config.mode = ReplyMode::kAck;
  config.framing = Framing::kLine;
  config.reply = "ok";
  return config;
}

std::string answer(ResponderSession& session, std::string_view message, std::uint64_t number) {
  return std::string(session.answer({message, number, kClient}).bytes);
}

TEST(LiveResponder, ReplacedRulesAnswerNewSessionsWhileAnOpenOneKeepsItsOwn) {
  ServerConfig config = ack_config();
  config.testing.rules = rules("ping => old\n");
  LiveResponder live(config, 1);
  const auto before = live.current();
  ResponderSession open = before->session(1);
  EXPECT_EQ(answer(open, "ping", 1), "old\n");

  live.replace_rules(rules("ping => new\nhi => hello\n"));
  EXPECT_EQ(answer(open, "ping", 2), "old\n") << "an open connection keeps its rules";
  EXPECT_EQ(answer(open, "hi", 3), "ok\n");
  const auto after = live.current();
  ResponderSession fresh = after->session(2);
  EXPECT_EQ(answer(fresh, "ping", 1), "new\n");
  EXPECT_EQ(answer(fresh, "hi", 2), "hello\n");
  EXPECT_EQ(answer(fresh, "other", 3), "ok\n") << "the reply stays";
}

TEST(LiveResponder, AReplacedReplyIsSentAsItIsAndTheRulesStay) {
  ServerConfig config = ack_config();
  config.reply = "first reply\r\n";
  config.testing.reply_verbatim = true;  // --reply-file
  config.testing.rules = rules("ping => pong\n");
  LiveResponder live(config, 1);
  // As a connection does: the snapshot is held as long as a session of it answers.
  const auto snapshot = live.current();
  ResponderSession open = snapshot->session(1);

  live.replace_reply(std::string("second\0reply", 12));
  const auto second = live.current();
  ResponderSession fresh = second->session(2);
  EXPECT_EQ(answer(fresh, "x", 1), std::string("second\0reply", 12)) << "no newline added";
  EXPECT_EQ(answer(fresh, "ping", 2), "pong\n");
  EXPECT_EQ(live.current()->message_reply_size(), 12U);
  EXPECT_EQ(answer(open, "x", 1), "first reply\r\n");

  // And the other way round: new rules keep the reloaded reply.
  live.replace_rules(rules("ping => pang\n"));
  const auto third_snapshot = live.current();
  ResponderSession third = third_snapshot->session(3);
  EXPECT_EQ(answer(third, "x", 1), std::string("second\0reply", 12));
  EXPECT_EQ(answer(third, "ping", 2), "pang\n");
}

// Which of the first 200 messages connection 5 drops at --drop-rate 0.5.
std::vector<bool> drops(const Responder& responder) {
  ResponderSession session = responder.session(5);
  std::vector<bool> dropped;
  for (std::uint64_t n = 1; n <= 200; ++n) {
    dropped.push_back(session.answer({"x", n, kClient}).action == ResponseAction::kDrop);
  }
  return dropped;
}

TEST(LiveResponder, TheSeedAndTheOtherSettingsSurviveAReplacement) {
  ServerConfig config = ack_config();
  config.testing.drop_rate = 0.5;
  config.testing.close_after = 150;
  LiveResponder live(config, 4242);
  const std::vector<bool> before = drops(*live.current());
  live.replace_reply("other");
  live.replace_rules(rules("nothing => matches\n"));
  EXPECT_EQ(live.seed(), 4242U);
  EXPECT_EQ(live.current()->seed(), 4242U);
  EXPECT_EQ(drops(*live.current()), before) << "same seed, same connection: same choices";
  EXPECT_TRUE(live.current()->may_delay()) << "rules may delay";
}

// For TSan: connections taking snapshots and answering while SIGHUP replaces them. Each answer
// comes whole from one snapshot (the rules and the reply of one replacement, never a mix).
TEST(LiveResponder, SnapshotsTakenWhileReplacementsRunAreEachWhole) {
  ServerConfig config = ack_config();
  config.reply = "r0";
  config.testing.reply_verbatim = true;
  config.testing.rules = rules("ping => p0\n");
  LiveResponder live(config, 1);
  constexpr int kReplacements = 200;
  std::thread reloader([&] {
    for (int i = 1; i <= kReplacements; ++i) {
      live.replace_reply("r" + std::to_string(i));
      live.replace_rules(rules("ping => p" + std::to_string(i) + "\n"));
    }
  });
  std::vector<std::string> mixes;
  for (std::uint64_t connection = 1; connection <= 2000; ++connection) {
    const auto snapshot = live.current();
    ResponderSession session = snapshot->session(connection);
    const std::string reply = answer(session, "x", 1);
    const std::string rule = answer(session, "ping", 2);
    // After replace_reply(i) and before replace_rules(i), reply i goes with rule i-1.
    const int r = std::stoi(reply.substr(1));
    const int p = std::stoi(rule.substr(1));
    if (r != p && r != p + 1) mixes.push_back(reply + " with " + rule);
  }
  reloader.join();
  EXPECT_TRUE(mixes.empty()) << mixes.front();
  const auto last_snapshot = live.current();
  ResponderSession last = last_snapshot->session(1);
  EXPECT_EQ(answer(last, "ping", 1), "p200\n");
}

template <typename Read>
std::string error_of(Read read) {
  try {
    read();
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ReplyFiles, AReplyFileIsItsBytesExactlyAndAnEmptyOrMissingOneSaysWhich) {
  TempDir dir;
  const std::string bytes("HTTP/1.0 200 OK\r\n\r\n\0\xff", 21);
  EXPECT_EQ(read_reply_file(dir.write("reply", bytes)), bytes);
  const std::string empty = dir.write("empty", "");
  EXPECT_EQ(error_of([&] { (void)read_reply_file(empty); }), empty + ": the file is empty");
  EXPECT_EQ(error_of([&] { (void)read_reply_file("/nonexistent/r"); }),
            "/nonexistent/r: No such file or directory");
  const std::string directory = std::filesystem::temp_directory_path();
  EXPECT_EQ(error_of([&] { (void)read_reply_file(directory); }), directory + ": Is a directory");
}

TEST(ReplyFiles, ARulesFileLoadsWithTheEncodingAndABadLineIsNamed) {
  TempDir dir;
  const auto loaded = load_rules_file(dir.write("ok.rules", "a => b\n# note\nc => d\n"), {});
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->size(), 2U);
  const std::string bad = dir.write("bad.rules", "a => b\n(unclosed => x\n");
  EXPECT_EQ(error_of([&] { (void)load_rules_file(bad, {}); }).rfind(bad + ":2: ", 0), 0U)
      << error_of([&] { (void)load_rules_file(bad, {}); });
  // The encoding is the clients': a reply it cannot carry is refused, as at start.
  const std::string latin = dir.write("latin.rules", "a => \xe2\x82\xac\n");
  EXPECT_EQ(error_of([&] {
              (void)load_rules_file(latin, TextEncoding::named("latin1"));
            }).rfind(latin + ":1: ", 0),
            0U)
      << error_of([&] { (void)load_rules_file(latin, TextEncoding::named("latin1")); });
}

}  // namespace
}  // namespace tcp_server
