#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tcp_server/config.hpp"
#include "tcp_server/endpoint.hpp"
#include "tcp_server/random_bits.hpp"
#include "tcp_server/testing_settings.hpp"

namespace tcp_server {

enum class ResponseAction {
  kReply,    // send bytes
  kNoReply,  // send nothing
  kDrop,     // send nothing, on purpose: a reply was due and is withheld (logged as dropped)
  kClose,    // send bytes, then close the connection
  kReset,    // send bytes (if any), then close the connection with a reset
};

struct Response {
  ResponseAction action = ResponseAction::kNoReply;
  // With kReply, kClose and kReset; points into the responder, its session or its input, and
  // stays valid until the session is asked again.
  std::string_view bytes;
  // How long the connection waits before it carries the response out (a drain cuts it short).
  std::chrono::milliseconds delay{0};
  // Why, for the log, with kDrop, kClose and kReset ("after the last reply (--close-after)",
  // following "closed "/"reset "); our own words.
  std::string_view note;
};

// One message as the responder sees it.
struct Message {
  std::string_view payload;        // a line without its end, or (chunk framing) one read
  std::uint64_t number = 0;        // 1 for a connection's first message
  const Endpoint& client;          // the real client (the one a PROXY header names)
  std::string_view client_text{};  // client as the log shows it (a rule's ${peer})
};

class ResponderSession;

// What to answer, for every connection of a server: the reply bytes and the Testing settings.
// Const and shared (thread safe); a SIGHUP that re-reads --reply-file or --rules makes a new one
// for the connections after it (LiveResponder), each connection keeping the one it started with;
// each connection asks through a session of its own (session()), which holds what changes per
// connection. Ack mode answers each message with the reply text; echo mode answers each read with
// the bytes received, whatever the framing, so a line is echoed exactly as sent (its '\r' and its
// part beyond --max-line included).
class Responder {
 public:
  // seed: of every session's random choices (--seed, or one drawn at start).
  Responder(ReplyMode mode, Framing framing, std::string reply, TestingSettings testing = {},
            std::uint64_t seed = 0);
  Responder(const ServerConfig& config, std::uint64_t seed)
      : Responder(config.mode, config.framing, config.reply, config.testing, seed) {}
  explicit Responder(const ServerConfig& config) : Responder(config, 0) {}

  // The session of the connection numbered connection_id (its random choices derive from the
  // seed and that number).
  [[nodiscard]] ResponderSession session(std::uint64_t connection_id) const noexcept;

  // The size of a plain reply (0 when messages get none): what a connection keeps room for.
  [[nodiscard]] std::size_t message_reply_size() const noexcept { return ack_.size(); }
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }
  // True when an answer may come with a delay (--delay, --jitter, --rules' !delay).
  [[nodiscard]] bool may_delay() const noexcept {
    return testing_.delay.count() > 0 || testing_.jitter.count() > 0 || testing_.rules != nullptr;
  }

 private:
  friend class ResponderSession;

  ReplyMode mode_;
  Framing framing_;
  std::string ack_;
  std::string banner_;
  TestingSettings testing_;
  bool shapes_responses_;  // anything beyond the plain reply: checked once per answer
  std::uint64_t seed_;
};

// One connection's side of the responder: what it has answered so far and its own random
// sequence, so that --close-after counts and --drop-rate draws per connection. Pure: no I/O;
// no allocation but a rule's reply. Not thread safe (one connection's thread).
class ResponderSession {
 public:
  // When the client has been admitted, before it sends anything: a banner (kReply), a reset
  // (--reset-rate), or nothing.
  [[nodiscard]] Response greeting() noexcept;
  // The answer to one framed message. Not noexcept: a rule's reply may need memory.
  [[nodiscard]] Response answer(const Message& message);
  // The answer to one read's bytes, after answer() was asked about each message they completed.
  [[nodiscard]] Response answer_received(std::string_view received) noexcept;

  [[nodiscard]] std::uint64_t replies() const noexcept { return replies_; }

 private:
  friend class Responder;
  ResponderSession(const Responder& responder, std::uint64_t connection_id) noexcept
      : responder_(&responder),
        random_(responder.seed_, connection_id),
        line_framing_(responder.framing_ == Framing::kLine) {}

  // The Testing settings applied to a reply due: dropped, delayed, or the last one.
  Response shape(Response reply) noexcept;
  // --rules: the matching rule's answer, or nothing (kNoReply) when none matches.
  bool answer_by_rule(const Message& message, Response& response);

  const Responder* responder_;
  RandomBits random_;
  std::uint64_t replies_ = 0;
  std::string expanded_;  // the reply a rule expanded (its captures, ${n}, ${peer})
  bool line_framing_;
};

}  // namespace tcp_server
