#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tcp_server/random_bits.hpp"
#include "tcp_server/responder.hpp"
#include "tcp_server/rules.hpp"
#include "tcp_server/send_pacer.hpp"
#include "tcp_server/testing_settings.hpp"

namespace tcp_server {
namespace {

using std::chrono::milliseconds;

const Endpoint kClient = *Endpoint::from_ip("192.0.2.7", 40000);

Responder ack_responder(TestingSettings testing, std::uint64_t seed = 1,
                        Framing framing = Framing::kLine) {
  return Responder(ReplyMode::kAck, framing, "ok", std::move(testing), seed);
}

Response next(ResponderSession& session, std::uint64_t number) {
  return session.answer({"hello", number, kClient});
}

// Which of the first `count` messages of connection `id` are dropped.
std::vector<bool> drops(const Responder& responder, std::uint64_t id, int count) {
  ResponderSession session = responder.session(id);
  std::vector<bool> dropped;
  for (int i = 1; i <= count; ++i) {
    dropped.push_back(next(session, static_cast<std::uint64_t>(i)).action == ResponseAction::kDrop);
  }
  return dropped;
}

TEST(ResponderSession, WithoutTestingSettingsAnswersPlainlyAndSaysNothingFirst) {
  const Responder responder = ack_responder({});
  ResponderSession session = responder.session(1);
  EXPECT_EQ(session.greeting().action, ResponseAction::kNoReply);
  for (std::uint64_t i = 1; i <= 100; ++i) {
    const Response response = next(session, i);
    EXPECT_EQ(response.action, ResponseAction::kReply);
    EXPECT_EQ(response.bytes, "ok\n");
    EXPECT_EQ(response.delay, milliseconds(0));
  }
}

TEST(ResponderSession, BannerIsTheGreetingAsALineInLineFraming) {
  const Responder line = ack_responder({.banner = "220 ready"});
  ResponderSession line_session = line.session(1);
  const Response greeting = line_session.greeting();
  EXPECT_EQ(greeting.action, ResponseAction::kReply);
  EXPECT_EQ(greeting.bytes, "220 ready\n");

  const Responder crlf = ack_responder({.banner = "220 ready\r\n"});
  EXPECT_EQ(crlf.session(1).greeting().bytes, "220 ready\r\n");

  const Responder chunk = ack_responder({.banner = "\x01\x02"}, 1, Framing::kChunk);
  EXPECT_EQ(chunk.session(1).greeting().bytes, "\x01\x02");
}

TEST(ResponderSession, CloseAfterEndsWithTheNthReplyDelivered) {
  const Responder responder = ack_responder({.close_after = 3});
  ResponderSession session = responder.session(1);
  EXPECT_EQ(next(session, 1).action, ResponseAction::kReply);
  EXPECT_EQ(next(session, 2).action, ResponseAction::kReply);
  const Response last = next(session, 3);
  EXPECT_EQ(last.action, ResponseAction::kClose);
  EXPECT_EQ(last.bytes, "ok\n");
  EXPECT_EQ(last.note, "after the last reply (--close-after)");
}

TEST(ResponderSession, ResetAfterEndsWithTheNthReplyThenAReset) {
  const Responder responder = ack_responder({.close_after = 5, .reset_after = 2});
  ResponderSession session = responder.session(1);
  EXPECT_EQ(next(session, 1).action, ResponseAction::kReply);
  const Response last = next(session, 2);
  EXPECT_EQ(last.action, ResponseAction::kReset) << "the earlier of the two wins";
  EXPECT_EQ(last.bytes, "ok\n");
}

TEST(ResponderSession, EchoModeCountsRepliesPerRead) {
  const Responder responder(ReplyMode::kEcho, Framing::kLine, "", {.close_after = 2}, 1);
  ResponderSession session = responder.session(1);
  EXPECT_EQ(session.answer({"a", 1, kClient}).action, ResponseAction::kNoReply);
  EXPECT_EQ(session.answer_received("a\nb\n").action, ResponseAction::kReply);
  const Response last = session.answer_received("c\n");
  EXPECT_EQ(last.action, ResponseAction::kClose);
  EXPECT_EQ(last.bytes, "c\n");
}

TEST(ResponderSession, DelayIsAddedToEveryReplyAndJitterStaysInItsRange) {
  const Responder fixed = ack_responder({.delay = milliseconds(200)});
  ResponderSession fixed_session = fixed.session(1);
  for (std::uint64_t i = 1; i <= 10; ++i) {
    EXPECT_EQ(next(fixed_session, i).delay, milliseconds(200));
  }

  const Responder jittery = ack_responder({.delay = milliseconds(100), .jitter = milliseconds(50)});
  ResponderSession session = jittery.session(1);
  bool varied = false;
  milliseconds first{-1};
  for (std::uint64_t i = 1; i <= 200; ++i) {
    const milliseconds delay = next(session, i).delay;
    EXPECT_GE(delay, milliseconds(100));
    EXPECT_LE(delay, milliseconds(150));
    if (first.count() < 0) first = delay;
    varied = varied || delay != first;
  }
  EXPECT_TRUE(varied);
}

TEST(ResponderSession, SameSeedAndConnectionDropTheSameMessages) {
  const Responder a = ack_responder({.drop_rate = 0.5}, 7);
  const Responder b = ack_responder({.drop_rate = 0.5}, 7);
  EXPECT_EQ(drops(a, 1, 200), drops(b, 1, 200));
  EXPECT_EQ(drops(a, 2, 200), drops(b, 2, 200));
  EXPECT_NE(drops(a, 1, 200), drops(a, 2, 200)) << "each connection has a sequence of its own";
  const Responder other_seed = ack_responder({.drop_rate = 0.5}, 8);
  EXPECT_NE(drops(a, 1, 200), drops(other_seed, 1, 200));
}

TEST(ResponderSession, DropRateIsAboutTheShareAsked) {
  const Responder responder = ack_responder({.drop_rate = 0.5}, 12345);
  const auto dropped = drops(responder, 1, 10000);
  const auto count = std::count(dropped.begin(), dropped.end(), true);
  EXPECT_GT(count, 4700);
  EXPECT_LT(count, 5300);
  const auto all = drops(ack_responder({.drop_rate = 1}), 1, 100);
  EXPECT_EQ(std::count(all.begin(), all.end(), true), 100);
}

TEST(ResponderSession, DroppedMessagesDoNotCountAsReplies) {
  const Responder responder = ack_responder({.close_after = 3, .drop_rate = 0.5}, 7);
  ResponderSession session = responder.session(1);
  int replies = 0;
  for (std::uint64_t i = 1; i <= 100; ++i) {
    const Response response = next(session, i);
    if (response.action == ResponseAction::kDrop) {
      EXPECT_TRUE(response.bytes.empty());
      EXPECT_EQ(response.note, "--drop-rate");
      continue;
    }
    ++replies;
    if (replies == 3) {
      EXPECT_EQ(response.action, ResponseAction::kClose);
      return;
    }
    EXPECT_EQ(response.action, ResponseAction::kReply);
  }
  FAIL() << "never closed";
}

TEST(ResponderSession, ResetRateResetsInsteadOfTheBanner) {
  const Responder always = ack_responder({.reset_rate = 1, .banner = "hi"});
  const Response greeting = always.session(1).greeting();
  EXPECT_EQ(greeting.action, ResponseAction::kReset);
  EXPECT_TRUE(greeting.bytes.empty());
  const Responder never = ack_responder({.reset_rate = 0, .banner = "hi"});
  EXPECT_EQ(never.session(1).greeting().action, ResponseAction::kReply);
}

TEST(ResponderSession, VerbatimReplyGetsNoNewline) {
  const Responder responder(ReplyMode::kAck, Framing::kLine, "HTTP/1.0 200 OK\r\n\r\nbody",
                            {.reply_verbatim = true}, 1);
  ResponderSession session = responder.session(1);
  EXPECT_EQ(next(session, 1).bytes, "HTTP/1.0 200 OK\r\n\r\nbody");
}

TestingSettings with_rules(std::string_view text) {
  TestingSettings testing;
  testing.rules = std::make_shared<const RuleSet>(RuleSet::parse(text, "t.rules", {}));
  return testing;
}

TEST(ResponderSession, ARuleAnswersWhatItMatchesAndTheReplyTheRest) {
  const Responder responder = ack_responder(with_rules("GET (\\w+) => got $1 #${n} ${peer}\n"));
  ResponderSession session = responder.session(1);
  const Response matched = session.answer({"GET x", 4, kClient, "192.0.2.7:40000"});
  EXPECT_EQ(matched.action, ResponseAction::kReply);
  EXPECT_EQ(matched.bytes, "got x #4 192.0.2.7:40000\n") << "ended as --reply is";
  EXPECT_EQ(session.answer({"other", 5, kClient, "p"}).bytes, "ok\n");

  const Responder chunk = ack_responder(with_rules("GET => got\n"), 1, Framing::kChunk);
  ResponderSession chunk_session = chunk.session(1);
  EXPECT_EQ(chunk_session.answer({"GET", 1, kClient}).bytes, "got");
}

TEST(ResponderSession, RuleVerbsBecomeResponses) {
  const Responder responder = ack_responder(
      with_rules("Q => !close bye\nR => !reset\nS => !silent\nD => !delay 250ms slow\n"));
  ResponderSession session = responder.session(1);
  const Response close = session.answer({"Q", 1, kClient});
  EXPECT_EQ(close.action, ResponseAction::kClose);
  EXPECT_EQ(close.bytes, "bye\n");
  EXPECT_EQ(session.answer({"R", 2, kClient}).action, ResponseAction::kReset);
  EXPECT_EQ(session.answer({"S", 3, kClient}).action, ResponseAction::kNoReply);
  const Response slow = session.answer({"D", 4, kClient});
  EXPECT_EQ(slow.bytes, "slow\n");
  EXPECT_EQ(slow.delay, milliseconds(250));
}

TEST(ResponderSession, TestingSettingsApplyToRuleRepliesToo) {
  TestingSettings testing = with_rules("D => !delay 250ms slow\n");
  testing.delay = milliseconds(100);
  testing.close_after = 2;
  const Responder responder = ack_responder(testing);
  ResponderSession session = responder.session(1);
  EXPECT_EQ(session.answer({"D", 1, kClient}).delay, milliseconds(350));
  EXPECT_EQ(session.answer({"x", 2, kClient}).action, ResponseAction::kClose);
}

TEST(RandomBits, ChanceAndRangeKeepToTheirBounds) {
  RandomBits random(1, 1);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(random.chance(0));
    EXPECT_TRUE(random.chance(1));
    const milliseconds value = random.up_to(milliseconds(3));
    EXPECT_GE(value.count(), 0);
    EXPECT_LE(value.count(), 3);
  }
  EXPECT_EQ(random.up_to(milliseconds(0)), milliseconds(0));
}

TEST(SendPacer, PiecesAreATwentiethOfASecondWithinBounds) {
  EXPECT_EQ(SendPacer(10240).piece_size(), 512u);
  EXPECT_EQ(SendPacer(1).piece_size(), 1u);
  EXPECT_EQ(SendPacer(0).piece_size(), 1u) << "a zero rate would never send: treated as 1";
  EXPECT_EQ(SendPacer(100u << 20).piece_size(), 16384u);
}

TEST(SendPacer, EachPieceWaitsForThePreviousOnesTime) {
  using Clock = SendPacer::Clock;
  SendPacer pacer(1000);
  const Clock::time_point start{std::chrono::seconds(100)};
  EXPECT_EQ(pacer.next_send(start), start) << "the first piece goes at once";
  pacer.sent(500, start);
  EXPECT_EQ(pacer.next_send(start), start + milliseconds(500));
  pacer.sent(500, start + milliseconds(500));
  EXPECT_EQ(pacer.next_send(start + milliseconds(600)), start + milliseconds(1000));
}

TEST(SendPacer, AnIdleLinkSavesUpNoCredit) {
  using Clock = SendPacer::Clock;
  SendPacer pacer(1000);
  const Clock::time_point start{std::chrono::seconds(100)};
  pacer.sent(100, start);
  const Clock::time_point later = start + std::chrono::seconds(60);
  EXPECT_EQ(pacer.next_send(later), later);
  pacer.sent(1000, later);
  EXPECT_EQ(pacer.next_send(later), later + std::chrono::seconds(1));
}

TEST(TestingSettings, RatesOutsideZeroToOneAreRefusedNamingTheOption) {
  EXPECT_TRUE(TestingSettings{}.validate().empty());
  const auto problems = TestingSettings{.drop_rate = 1.5}.validate();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("--drop-rate"), std::string::npos);
  EXPECT_EQ(
      TestingSettings{.reset_rate = std::numeric_limits<double>::quiet_NaN()}.validate().size(),
      1u);
  EXPECT_EQ(TestingSettings{.delay = milliseconds(-1)}.validate().size(), 1u);
}

TEST(TestingSettings, RandomnessIsOnlyInUseWhenAChoiceIsRandom) {
  EXPECT_FALSE(TestingSettings{}.uses_randomness());
  EXPECT_FALSE((TestingSettings{.delay = milliseconds(5), .close_after = 2}.uses_randomness()));
  EXPECT_TRUE(TestingSettings{.jitter = milliseconds(5)}.uses_randomness());
  EXPECT_TRUE(TestingSettings{.drop_rate = 0.1}.uses_randomness());
}

}  // namespace
}  // namespace tcp_server
