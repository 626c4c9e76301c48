#include "tcp_server/responder.hpp"

namespace tcp_server {
namespace {

// In line framing every answer is a line, so netcat shows one per message; a reply that already
// ends its line (e.g. "+PONG\r\n") is sent as given rather than with a second newline.
std::string ack_bytes(Framing framing, std::string reply) {
  if (framing == Framing::kLine && !reply.ends_with('\n')) reply += '\n';
  return reply;
}

}  // namespace

Responder::Responder(ReplyMode mode, Framing framing, std::string reply)
    : mode_(mode), ack_(mode == ReplyMode::kAck ? ack_bytes(framing, std::move(reply)) : "") {}

Response Responder::answer(const Message& /*message*/) const noexcept {
  if (mode_ != ReplyMode::kAck) return {};
  return {ResponseAction::kReply, ack_};
}

Response Responder::answer_received(std::string_view received) const noexcept {
  if (mode_ != ReplyMode::kEcho || received.empty()) return {};
  return {ResponseAction::kReply, received};
}

}  // namespace tcp_server
