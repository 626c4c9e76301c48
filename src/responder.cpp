#include "tcp_server/responder.hpp"

#include "tcp_server/rules.hpp"

namespace tcp_server {
namespace {

// In line framing every answer is a line, so netcat shows one per message; a reply that already
// ends its line (e.g. "+PONG\r\n") is sent as given rather than with a second newline.
std::string as_line(Framing framing, std::string text) {
  if (framing == Framing::kLine && !text.empty() && !text.ends_with('\n')) text += '\n';
  return text;
}

// The reply to every message: in line framing always a line, so an empty --reply answers each
// message with an empty line (as before the Testing options), unlike an empty banner (nothing).
std::string ack_line(Framing framing, std::string reply) {
  if (framing == Framing::kLine && !reply.ends_with('\n')) reply += '\n';
  return reply;
}

Response reply_with(std::string_view bytes) noexcept {
  Response response;
  response.action = ResponseAction::kReply;
  response.bytes = bytes;
  return response;
}

Response withheld(ResponseAction action, std::string_view why) noexcept {
  Response response;
  response.action = action;
  response.note = why;
  return response;
}

}  // namespace

Responder::Responder(ReplyMode mode, Framing framing, std::string reply, TestingSettings testing,
                     std::uint64_t seed)
    : mode_(mode),
      framing_(framing),
      ack_(mode != ReplyMode::kAck  ? std::string()
           : testing.reply_verbatim ? std::move(reply)
                                    : ack_line(framing, std::move(reply))),
      banner_(as_line(framing, testing.banner)),
      testing_(std::move(testing)),
      shapes_responses_(testing_.shapes_responses()),
      seed_(seed) {}

ResponderSession Responder::session(std::uint64_t connection_id) const noexcept {
  return ResponderSession(*this, connection_id);
}

Response ResponderSession::greeting() noexcept {
  const Responder& responder = *responder_;
  if (!responder.shapes_responses_) return {};
  if (random_.chance(responder.testing_.reset_rate)) {
    return withheld(ResponseAction::kReset, "on accept (--reset-rate)");
  }
  if (responder.banner_.empty()) return {};
  return reply_with(responder.banner_);
}

Response ResponderSession::answer(const Message& message) {
  const Responder& responder = *responder_;
  if (responder.mode_ != ReplyMode::kAck) return {};
  if (!responder.shapes_responses_) return reply_with(responder.ack_);
  Response response;
  if (responder.testing_.rules != nullptr && answer_by_rule(message, response)) {
    return response.action == ResponseAction::kReply ? shape(response) : response;
  }
  return shape(reply_with(responder.ack_));
}

bool ResponderSession::answer_by_rule(const Message& message, Response& response) {
  const auto match = responder_->testing_.rules->match(message.payload, message.number,
                                                       message.client_text, expanded_);
  if (!match) return false;
  // Ended as --reply is (rules.hpp leaves that to the caller).
  if (line_framing_ && !expanded_.empty() && !expanded_.ends_with('\n')) expanded_ += '\n';
  response.delay = match->delay;
  switch (match->verb) {
    case RuleVerb::kReply:
      response.action = ResponseAction::kReply;
      response.bytes = expanded_;
      break;
    case RuleVerb::kClose:
      response.action = ResponseAction::kClose;
      response.bytes = expanded_;
      response.note = "by a rule (!close)";
      break;
    case RuleVerb::kReset:
      response.action = ResponseAction::kReset;
      response.note = "by a rule (!reset)";
      break;
    case RuleVerb::kSilent:
      response.action = ResponseAction::kNoReply;
      break;
  }
  return true;
}

Response ResponderSession::answer_received(std::string_view received) noexcept {
  const Responder& responder = *responder_;
  if (responder.mode_ != ReplyMode::kEcho || received.empty()) return {};
  if (!responder.shapes_responses_) return reply_with(received);
  return shape(reply_with(received));
}

Response ResponderSession::shape(Response reply) noexcept {
  const TestingSettings& testing = responder_->testing_;
  // Drawn for every reply due, dropped or not, so the choices of one connection depend only on
  // the seed, its number and how many replies were due.
  if (random_.chance(testing.drop_rate)) {
    return withheld(ResponseAction::kDrop, "--drop-rate");
  }
  reply.delay += testing.delay + random_.up_to(testing.jitter);
  ++replies_;
  if (testing.reset_after > 0 && replies_ >= testing.reset_after) {
    reply.action = ResponseAction::kReset;
    reply.note = "after the last reply (--reset-after)";
  } else if (testing.close_after > 0 && replies_ >= testing.close_after) {
    reply.action = ResponseAction::kClose;
    reply.note = "after the last reply (--close-after)";
  }
  return reply;
}

}  // namespace tcp_server
