#include "tcp_server/responder.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tcp_server {
namespace {

const Endpoint kClient = *Endpoint::from_ip("192.0.2.7", 40000);

Response answer(const Responder& responder, std::string_view payload, std::uint64_t number = 1) {
  ResponderSession session = responder.session(1);
  return session.answer({payload, number, kClient});
}

Response answer_received(const Responder& responder, std::string_view received) {
  ResponderSession session = responder.session(1);
  return session.answer_received(received);
}

TEST(Responder, AckModeAnswersEachLineWithTheReplyAsALine) {
  const Responder responder(ReplyMode::kAck, Framing::kLine, "ok");
  const Response response = answer(responder, "hello");
  EXPECT_EQ(response.action, ResponseAction::kReply);
  EXPECT_EQ(response.bytes, "ok\n");
  EXPECT_EQ(responder.message_reply_size(), 3u);
}

TEST(Responder, AckModeKeepsAReplyThatAlreadyEndsItsLine) {
  const Responder responder(ReplyMode::kAck, Framing::kLine, "+PONG\r\n");
  EXPECT_EQ(answer(responder, "PING").bytes, "+PONG\r\n");
}

TEST(Responder, AckModeInChunkFramingSendsTheReplyAsGiven) {
  const Responder responder(ReplyMode::kAck, Framing::kChunk, "ok");
  EXPECT_EQ(answer(responder, "anything").bytes, "ok");
}

TEST(Responder, AckModeAnswersEveryMessageTheSameWhateverItsNumberOrPayload) {
  const Responder responder(ReplyMode::kAck, Framing::kLine, "ok");
  EXPECT_EQ(answer(responder, "", 1).bytes, "ok\n");
  EXPECT_EQ(answer(responder, std::string(100000, 'x'), 99).bytes, "ok\n");
}

TEST(Responder, AckModeSendsNothingPerRead) {
  const Responder responder(ReplyMode::kAck, Framing::kLine, "ok");
  EXPECT_EQ(answer_received(responder, "hello\n").action, ResponseAction::kNoReply);
}

TEST(Responder, EchoModeSendsEachReadBackExactlyAndNothingPerMessage) {
  for (const Framing framing : {Framing::kLine, Framing::kChunk}) {
    const Responder responder(ReplyMode::kEcho, framing, "ok");
    EXPECT_EQ(answer(responder, "hello").action, ResponseAction::kNoReply);
    const std::string received = "hel\r\nlo\n\x01";
    const Response response = answer_received(responder, received);
    EXPECT_EQ(response.action, ResponseAction::kReply);
    EXPECT_EQ(response.bytes, received);
    EXPECT_EQ(response.bytes.data(), received.data()) << "points into the input: no copy";
    EXPECT_EQ(responder.message_reply_size(), 0u);
  }
}

TEST(Responder, EchoModeSendsNothingForAnEmptyRead) {
  const Responder responder(ReplyMode::kEcho, Framing::kLine, "ok");
  EXPECT_EQ(answer_received(responder, "").action, ResponseAction::kNoReply);
}

}  // namespace
}  // namespace tcp_server
