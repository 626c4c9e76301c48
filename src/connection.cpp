#include "connection.hpp"

#include <fmt/format.h>
#include <sys/socket.h>  // SHUT_RD, for the stream's shut_down()

#include <array>
#include <memory>
#include <span>
#include <thread>

#include "proxy_header_reader.hpp"
#include "server_log.hpp"

namespace tcp_server {
namespace {

// One recv() per this many bytes at most; in chunk framing it is also the largest message.
constexpr std::size_t kReceiveBufferSize = 16 * 1024;
// The first reads go here; see serve_messages().
constexpr std::size_t kSmallReceiveBufferSize = 1024;
// Acks waiting to be sent go out once they reach this, so that a burst of short lines is answered
// in pieces rather than in one send() of every ack of a read (16384 empty lines: 48 KiB).
constexpr std::size_t kReplyFlushSize = 16 * 1024;
// Reply storage beyond this (plus one ack) is given back when the connection goes idle.
constexpr std::size_t kKeptReplyCapacity = 1024;
// A connection that holds burst memory (the 16 KiB buffer, large reply storage) and receives
// nothing for this long is idle: it gives that memory back. Long enough that a client sending
// messages over 1 KiB back to back does not allocate and free per message.
constexpr std::chrono::milliseconds kIdleAfter{100};
// How often a thread that is finishing a line after the drain's SHUT_RD looks for the rest of it.
constexpr std::chrono::milliseconds kDrainPollInterval{10};

// The 16 KiB receive buffer, a block of its own (allocate_block): only the pages recv() fills
// become resident, and all of them go back to the kernel when it is freed.
struct FreeReceiveBuffer {
  void operator()(char* buffer) const noexcept { free_block(buffer, kReceiveBufferSize); }
};
using ReceiveBuffer = std::unique_ptr<char[], FreeReceiveBuffer>;

// Makes room for needed bytes of replies, in two sizes only: kKeptReplyCapacity (plus an ack),
// for the acks of one read of pipelined short lines, kept; or a burst's kReplyFlushSize (plus an
// ack), given back once the connection is idle. Going straight to either, rather than doubling
// through every size on the way, leaves no trail of small freed blocks in malloc's caches to pin
// heap pages after a burst. (needed <= kReplyFlushSize + ack_size: replies are sent at that.)
void make_room(LargeBlockString& replies, std::size_t needed, std::size_t ack_size) {
  if (needed <= replies.capacity()) return;
  const std::size_t kept = kKeptReplyCapacity + ack_size;
  LargeBlockString grown;
  grown.reserve(needed <= kept ? kept : kReplyFlushSize + ack_size);
  grown.append(replies);
  replies.swap(grown);
}

// Nothing queued: EAGAIN, or end of stream (ours after SHUT_RD, or the peer's).
bool nothing_queued(const ReceiveResult& received) {
  return received.bytes == 0 && (!received.error || is_timeout(received.error));
}

}  // namespace

Connection::Connection(std::unique_ptr<ByteStream> stream, Endpoint peer, std::uint64_t id,
                       const ConnectionServices& services)
    : id_(id),
      stream_(std::move(stream)),
      peer_(peer),
      client_(peer),
      client_text_(peer.to_string()),
      services_(services),
      started_(std::chrono::steady_clock::now()),
      responder_(services.responder.current()),
      session_(responder_->session(id)),
      pause_(responder_->may_delay() ? std::make_unique<WakeableWait>() : nullptr),
      framer_(services.config.max_line),
      formatter_(services.config.encoding, services.config.log_payload_max,
                 payload_style(services.config.log_format, services.config.log_hex)) {}

void Connection::serve() noexcept {
  Outcome outcome;
  try {
    const ServerConfig& config = services_.config;
    stream_->configure({.no_delay = config.no_delay,
                        .keepalive = config.keepalive,
                        .receive_timeout = config.idle_timeout,
                        .send_timeout = config.send_timeout});
    if (auto refusal = admit()) {
      refuse(refusal->reason, refusal->detail);
      return;
    }
    stream_->on_admitted(client_, first_bytes_);
    services_.log.connected(id_, client_text_, stream_->peer_identity(),
                            stream_->session_summary());
    if (services_.lifetimes != nullptr) {
      lifetime_ = services_.lifetimes->watch(*this, started_ + config.testing.max_lifetime);
    }
    outcome = serve_messages();
  } catch (const std::exception& error) {
    outcome.reason = CloseReason::kError;
    try {
      outcome.note = error.what();
    } catch (...) {  // no memory even for the note: the reason says enough
    }
  } catch (...) {
    outcome.reason = CloseReason::kError;
  }
  finish(outcome);
}

std::optional<Refusal> Connection::admit() {
  const ServerConfig& config = services_.config;
  const Admission& admission = services_.admission;
  if (config.proxy_protocol != ProxyVersions::kNone) {
    if (auto refusal = admission.untrusted_proxy(peer_)) return refusal;
    ProxyHeaderRead header = read_proxy_header(*stream_, config.proxy_protocol,
                                               config.proxy_header_timeout, config.idle_timeout);
    if (header.refusal) return Refusal{RejectReason::kProxyHeader, std::move(*header.refusal)};
    if (header.client) {
      client_ = *header.client;
      client_text_ = client_.to_string();
    }
    first_bytes_ = std::move(header.first_bytes);
  }
  if (auto refusal = admission.denied(client_)) return refusal;
  if (!registration_.admit(client_)) return admission.per_ip_refusal();
  // The stream's own start (TLS: the handshake, over any bytes read past the PROXY header).
  if (auto failure = stream_->start(first_bytes_)) {
    return Refusal{RejectReason::kTls, std::move(*failure)};
  }
  return std::nullopt;
}

Connection::Outcome Connection::serve_messages() {
  const ServerConfig& config = services_.config;
  const bool line_framing = config.framing == Framing::kLine;
  // Most clients send short messages: they are read into a small buffer on the stack, which
  // lives in stack pages the thread has touched anyway, so an idle client costs no buffer
  // memory at all (bench/idle_and_drain.py measured 4-5 KiB per connection for a heap buffer).
  // A client whose read fills it gets the full-size buffer until it goes idle again.
  std::array<char, kSmallReceiveBufferSize> small_buffer;
  ReceiveBuffer large_buffer;
  Outcome outcome;
  if (!act(session_.greeting(), /*send_now=*/true, outcome)) return outcome;
  if (!first_bytes_.empty()) {
    const bool answered = process(first_bytes_, line_framing, outcome);
    std::string().swap(first_bytes_);  // framed: the framer copied what it still needs
    if (!answered) return outcome;
  }
  const std::size_t kept_reply_capacity = kKeptReplyCapacity + responder_->message_reply_size();
  bool drain_read_done = false;
  for (;;) {
    std::span<char> buffer = large_buffer ? std::span<char>(large_buffer.get(), kReceiveBufferSize)
                                          : std::span<char>(small_buffer);
    // Publish idleness before reading draining_; request_drain() does the reverse. With both
    // sequentially consistent, at least one side sees the other, so an idle connection is
    // either closed here or shut down by the drain, never left waiting.
    const bool idle = framer_.empty();
    idle_.store(idle);
    ReceiveResult received;
    if (draining_.load()) {
      if (idle) {
        // At a message boundary. Bytes already queued are a message the client began before it
        // heard of the drain: read them (once, without waiting), then close.
        if (drain_read_done) return {CloseReason::kShutdown, {}};
        drain_read_done = true;
        received = stream_->receive_queued(buffer);
        if (nothing_queued(received)) return {CloseReason::kShutdown, {}};
      } else if (drain_shut_down_.load()) {
        // In mid-line, yet the drain shut the read side as if idle: it saw this thread idle just
        // before recv() returned the start of this line (the window between recv() and
        // idle_.store(false) below). The line may still be finished: bytes that arrive after
        // SHUT_RD are queued and readable. But recv() now returns 0 at once instead of waiting
        // and poll() always reports the socket readable, so nothing can block until they come:
        // look every kDrainPollInterval, until the line ends, the peer closes, or the deadline's
        // shut_down() drops it. Only a connection that lost that race ever waits here.
        received = stream_->receive_queued(buffer);
        if (nothing_queued(received)) {
          if (forced_shut_down_.load()) return shut_down_outcome();
          if (stream_->peer_finished_sending()) break;
          std::this_thread::sleep_for(kDrainPollInterval);
          continue;
        }
      } else {
        received = stream_->receive_some(buffer);  // the deadline's shut_down() wakes it
      }
    } else if (idle && (large_buffer || replies_.capacity() > kept_reply_capacity)) {
      // At a message boundary, holding what a burst needed. If nothing comes for kIdleAfter, the
      // connection has gone idle: give that memory back before waiting on, so that it costs what
      // any idle connection costs. (The wait delays --idle-timeout by as much. Only clients whose
      // reads filled 1 KiB pay this poll().) The drain's and the deadline's shutdowns wake it.
      if (!stream_->wait_readable(kIdleAfter)) {
        large_buffer.reset();
        if (replies_.capacity() > kept_reply_capacity) LargeBlockString().swap(replies_);
        buffer = small_buffer;
      }
      received = stream_->receive_some(buffer);
    } else {
      received = stream_->receive_some(buffer);
    }
    idle_.store(false);
    if (received.error) return receive_error(received.error);
    if (received.bytes == 0) {
      if (forced_shut_down_.load()) return shut_down_outcome();
      // The drain's SHUT_RD (perhaps after the peer's FIN): the draining branch above decides.
      if (drain_shut_down_.load()) continue;
      break;
    }

    if (received.bytes == buffer.size() && !large_buffer) {
      large_buffer = ReceiveBuffer(static_cast<char*>(allocate_block(kReceiveBufferSize)));
    }
    if (!process(std::string_view(buffer.data(), received.bytes), line_framing, outcome)) {
      return outcome;
    }
  }

  // End of stream from the peer. A peer that half-closes after an unterminated last line
  // (printf 'hi' | nc -N) still gets that line logged and answered.
  Frame last;
  if (line_framing && framer_.finish(last) &&
      handle_message(last.payload, last.dropped_bytes, outcome)) {
    (void)flush_replies(outcome);
  }
  return {CloseReason::kPeerClosed, {}};
}

bool Connection::process(std::string_view bytes, bool line_framing, Outcome& outcome) {
  bytes_in_ += bytes.size();
  services_.stats.on_bytes_in(bytes.size());
  if (line_framing) {
    framer_.append(bytes);
    Frame frame;
    while (framer_.next(frame) == FrameStatus::kFrame) {
      if (!handle_message(frame.payload, frame.dropped_bytes, outcome)) return false;
    }
  } else if (!handle_message(bytes, 0, outcome)) {
    return false;
  }
  return act(session_.answer_received(bytes), /*send_now=*/true, outcome) && flush_replies(outcome);
}

bool Connection::handle_message(std::string_view payload, std::size_t dropped_bytes,
                                Outcome& outcome) {
  ++messages_;
  services_.stats.on_message();
  if (services_.config.log_payloads) {
    formatter_.format(display_, payload, dropped_bytes);
    services_.log.message(id_, client_text_, display_);
  }
  return act(session_.answer({payload, messages_, client_, client_text_}), /*send_now=*/false,
             outcome);
}

bool Connection::act(const Response& response, bool send_now, Outcome& outcome) {
  if (response.delay.count() > 0) {
    // What is queued goes first, so that the delay is this reply's alone; the drain cuts the
    // wait short (the reply then goes at once).
    if (!flush_replies(outcome)) return false;
    if (pause_) (void)pause_->wait_for(response.delay);
    send_now = true;
  }
  switch (response.action) {
    case ResponseAction::kNoReply:
      return true;
    case ResponseAction::kDrop:
      services_.log.reply_dropped(id_, client_text_, messages_, response.note);
      return true;
    case ResponseAction::kReply:
      if (send_now) return flush_replies(outcome) && deliver(response.bytes, 1, outcome);
      // One ack at a time ("ok\n" fits the string itself: no allocation), sent once 16 KiB wait.
      make_room(replies_, replies_.size() + response.bytes.size(),
                responder_->message_reply_size());
      replies_.append(response.bytes);
      if (!response.bytes.empty()) ++replies_queued_;
      return replies_.size() < kReplyFlushSize || flush_replies(outcome);
    case ResponseAction::kClose:
      if (flush_replies(outcome) && deliver(response.bytes, 1, outcome)) {
        outcome = {
            CloseReason::kShutdown,
            fmt::format("closed {}", response.note.empty() ? "by the responder" : response.note)};
      }
      return false;
    case ResponseAction::kReset:
      if (flush_replies(outcome) && deliver(response.bytes, 1, outcome)) {
        stream_->reset_on_close();
        outcome = {
            CloseReason::kReset,
            fmt::format("reset {}", response.note.empty() ? "by the responder" : response.note)};
      }
      return false;
  }
  return true;
}

bool Connection::flush_replies(Outcome& outcome) {
  if (replies_.empty()) return true;
  if (!deliver(replies_, replies_queued_, outcome)) return false;
  replies_.clear();
  replies_queued_ = 0;
  return true;
}

bool Connection::deliver(std::string_view bytes, std::uint64_t replies, Outcome& outcome) {
  if (bytes.empty()) return true;
  const std::error_code error = stream_->send_all(bytes);
  if (error) {
    outcome = delivery_error(error);
    return false;
  }
  services_.stats.on_bytes_out(bytes.size());
  services_.stats.on_messages_sent(replies);
  return true;
}

Connection::Outcome Connection::shut_down_outcome(std::string_view note) const {
  if (expired_.load()) {
    return {CloseReason::kMaxLifetime,
            fmt::format("open for {}", format_duration(services_.config.testing.max_lifetime))};
  }
  if (!note.empty()) return {CloseReason::kShutdown, std::string(note)};
  if (framer_.empty()) return {CloseReason::kShutdown, {}};
  return {CloseReason::kShutdown, "an unfinished line was dropped"};
}

Connection::Outcome Connection::receive_error(std::error_code error) const {
  if (expired_.load()) return shut_down_outcome();
  if (forced_shut_down_.load() || drain_shut_down_.load()) return {CloseReason::kShutdown, {}};
  if (is_timeout(error)) {
    return {CloseReason::kIdleTimeout,
            fmt::format("nothing received for {}", format_duration(services_.config.idle_timeout))};
  }
  if (is_peer_gone(error)) return {CloseReason::kReset, {}};
  return {CloseReason::kError, "recv: " + error.message()};
}

Connection::Outcome Connection::delivery_error(std::error_code error) const {
  if (forced_shut_down_.load() || drain_shut_down_.load()) {
    return shut_down_outcome("reply not delivered");
  }
  if (is_timeout(error)) {
    return {CloseReason::kSendTimeout, fmt::format("peer read nothing for {}",
                                                   format_duration(services_.config.send_timeout))};
  }
  if (is_peer_gone(error)) return {CloseReason::kReset, {}};
  return {CloseReason::kError, "send: " + error.message()};
}

void Connection::refuse(RejectReason reason, std::string_view detail) noexcept {
  services_.admission.refuse(*stream_, std::move(registration_), client_text_, reason, detail);
}

void Connection::finish(const Outcome& outcome) noexcept {
  // Counted and logged before the close, so a client that sees the close sees it in the log.
  const auto lifetime = std::chrono::steady_clock::now() - started_;
  services_.stats.on_closed(outcome.reason, lifetime, messages_);
  try {
    services_.log.disconnected(id_, client_text_, lifetime, messages_, bytes_in_, outcome.reason,
                               outcome.note);
  } catch (...) {
    // Out of memory for the line: the connection must still leave the registry, or the drain
    // would wait for it for ever.
  }
  registration_.reset();
  lifetime_.reset();
  stream_->close();
}

void Connection::request_drain() noexcept {
  draining_.store(true);
  if (pause_) pause_->wake();
  if (!idle_.load()) return;
  // Idle: wake the thread out of recv() (SHUT_RD, so that a reply still being written is not
  // cut). This may race with a line just arriving; serve_messages() lets that line finish.
  drain_shut_down_.store(true);
  stream_->shut_down(SHUT_RD);
}

void Connection::shut_down(int how) noexcept {
  forced_shut_down_.store(true);
  if (pause_) pause_->wake();
  stream_->shut_down(how);
}

void Connection::expire() noexcept {
  expired_.store(true);
  forced_shut_down_.store(true);
  // The stream first: a thread woken out of a --delay must find it shut, not send the reply.
  stream_->shut_down(SHUT_RDWR);
  if (pause_) pause_->wake();
}

}  // namespace tcp_server
