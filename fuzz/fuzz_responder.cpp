// Feeds arbitrary reply texts, modes, framings and messages to a Responder's session and checks
// what it promises: ack mode answers every message with the same reply, a line in line framing, and
// nothing per read; echo mode answers each read with exactly its bytes and nothing per message.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tcp_server/responder.hpp"

namespace {

// Bytes kept for the run of one input (a fuzzer input is checked, then the next one comes).
std::string_view copy_of(std::string_view bytes) {
  static std::string kept[2];
  static int next = 0;
  std::string& slot = kept[next++ % 2];
  slot.assign(bytes);
  return slot;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto mode = data[0] % 2 == 0 ? tcp_server::ReplyMode::kAck : tcp_server::ReplyMode::kEcho;
  const auto framing =
      data[0] / 2 % 2 == 0 ? tcp_server::Framing::kLine : tcp_server::Framing::kChunk;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::size_t reply_size = std::min<std::size_t>(data[1] % 32, rest.size());
  const std::string reply(rest.substr(0, reply_size));
  const std::string_view received = rest.substr(reply_size);

  const tcp_server::Responder responder(mode, framing, reply);
  tcp_server::ResponderSession session = responder.session(1);
  static const tcp_server::Endpoint client;
  // Copies: a response's bytes may live in the session only until it is asked again.
  const tcp_server::Response first_response = session.answer({received, 1, client});
  tcp_server::Response first = first_response;
  first.bytes = copy_of(first_response.bytes);
  const tcp_server::Response again_response =
      session.answer({received.substr(received.size() / 2), 2, client});
  tcp_server::Response again = again_response;
  again.bytes = copy_of(again_response.bytes);
  const tcp_server::Response per_read = session.answer_received(received);

  if (mode == tcp_server::ReplyMode::kAck) {
    if (first.action != tcp_server::ResponseAction::kReply) std::abort();
    if (first.bytes != again.bytes) std::abort();
    if (first.bytes.size() != responder.message_reply_size()) std::abort();
    if (!first.bytes.starts_with(reply)) std::abort();
    if (framing == tcp_server::Framing::kLine) {
      if (!first.bytes.ends_with('\n') || first.bytes.size() > reply.size() + 1) std::abort();
    } else if (first.bytes != reply) {
      std::abort();
    }
    if (per_read.action != tcp_server::ResponseAction::kNoReply) std::abort();
    return 0;
  }
  if (first.action != tcp_server::ResponseAction::kNoReply) std::abort();
  if (responder.message_reply_size() != 0) std::abort();
  if (received.empty()) {
    if (per_read.action != tcp_server::ResponseAction::kNoReply) std::abort();
  } else if (per_read.action != tcp_server::ResponseAction::kReply || per_read.bytes != received) {
    std::abort();
  }
  return 0;
}
