#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tcp_server/config.hpp"
#include "tcp_server/endpoint.hpp"

namespace tcp_server {

enum class ResponseAction {
  kReply,    // send bytes
  kNoReply,  // send nothing
  kClose,    // send bytes, then close the connection
  kReset,    // close the connection with a reset, sending nothing more
};

struct Response {
  ResponseAction action = ResponseAction::kNoReply;
  std::string_view bytes;  // with kReply and kClose; points into the responder or its input
};

// One message as the responder sees it.
struct Message {
  std::string_view payload;  // a line without its end, or (chunk framing) one read
  std::uint64_t number = 0;  // 1 for a connection's first message
  const Endpoint& client;    // the real client (the one a PROXY header names)
};

// What to answer, and nothing else: pure, no I/O, no allocation after construction, shared by
// every connection of a server (thread safe: const). Ack mode answers each message with the
// reply text; echo mode answers each read with the bytes received, whatever the framing, so a
// line is echoed exactly as sent (its '\r' and its part beyond --max-line included).
class Responder {
 public:
  Responder(ReplyMode mode, Framing framing, std::string reply);
  explicit Responder(const ServerConfig& config)
      : Responder(config.mode, config.framing, config.reply) {}

  // The answer to one framed message.
  [[nodiscard]] Response answer(const Message& message) const noexcept;
  // The answer to one read's bytes, after answer() was asked about each message they completed.
  [[nodiscard]] Response answer_received(std::string_view received) const noexcept;

  // The size of answer()'s reply bytes (0 when it sends none): what a connection keeps room for.
  [[nodiscard]] std::size_t message_reply_size() const noexcept { return ack_.size(); }

 private:
  ReplyMode mode_;
  std::string ack_;
};

}  // namespace tcp_server
