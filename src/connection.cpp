#include "connection.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <span>
#include <thread>

#include "connection_registry.hpp"
#include "server_log.hpp"
#include "tcp_server/proxy_protocol.hpp"
#include "tcp_server/socket.hpp"

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

// receive_some() without waiting: what is queued now, or EAGAIN. After shutdown(SHUT_RD) bytes
// that arrive are still queued and readable; then 0 means only that none is queued now.
ReceiveResult receive_queued(int fd, std::span<char> buffer) {
  const ssize_t n =
      retry_on_eintr([&] { return ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT); });
  if (n < 0) return {0, errno_code(errno)};
  return {static_cast<std::size_t>(n), {}};
}

// True when fd becomes readable (or closed, or in error) within timeout.
bool wait_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd readable{fd, POLLIN, 0};
  return retry_on_eintr([&] { return ::poll(&readable, 1, static_cast<int>(timeout.count())); }) !=
         0;
}

// Nothing queued: EAGAIN, or end of stream (ours after SHUT_RD, or the peer's).
bool nothing_queued(const ReceiveResult& received) {
  return received.bytes == 0 && (!received.error || is_timeout(received.error));
}

// True once the peer has sent its FIN (TCP state CLOSE_WAIT): no more bytes will come. Our own
// SHUT_RD sends nothing and leaves the state ESTABLISHED, so this tells the two ends of stream
// apart where recv() cannot. False when it cannot tell (not TCP).
bool peer_finished_sending(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return false;
  return info.tcpi_state == TCP_CLOSE_WAIT;
}

}  // namespace

Connection::Connection(UniqueFd fd, Endpoint peer, std::uint64_t id, ConnectionContext& context)
    : id_(id),
      fd_(std::move(fd)),
      peer_(peer),
      client_(peer),
      client_text_(peer.to_string()),
      context_(context),
      started_(std::chrono::steady_clock::now()),
      framer_(context.config.max_line),
      formatter_(context.config.encoding, context.config.log_payload_max) {}

void Connection::serve() noexcept {
  Outcome outcome;
  try {
    configure_socket();
    if (context_.config.proxy_protocol != ProxyVersions::kNone) {
      if (const auto refusal = read_proxy_header()) {
        reject(RejectReason::kProxyHeader, *refusal);
        return;
      }
    }
    if (const auto refusal = context_.config.access.refusal(client_)) {
      reject(RejectReason::kDenied, *refusal);
      return;
    }
    if (!context_.registry.admit(this, client_)) {
      reject(RejectReason::kPerIpLimit,
             fmt::format("{} connections from this address", context_.config.max_per_ip));
      return;
    }
    context_.log.connected(id_, client_text_);
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

std::optional<std::string> Connection::read_proxy_header() {
  const ServerConfig& config = context_.config;
  const bool trusted = std::any_of(config.trusted_proxies.begin(), config.trusted_proxies.end(),
                                   [&](const Cidr& proxy) { return proxy.contains(peer_); });
  if (!trusted) return std::string("not from a --trusted-proxy");
  const auto deadline = std::chrono::steady_clock::now() + config.proxy_header_timeout;
  std::array<char, 256> chunk;
  std::string received;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::string("no complete PROXY header in time");
    (void)set_receive_timeout(fd_.get(), std::max(left, std::chrono::milliseconds(1)));
    const ReceiveResult got = receive_some(fd_.get(), chunk);
    if (got.error) {
      return is_timeout(got.error) ? std::string("no complete PROXY header in time")
                                   : "recv: " + got.error.message();
    }
    if (got.bytes == 0) return std::string("closed before the end of its PROXY header");
    received.append(chunk.data(), got.bytes);
    const ProxyParseResult parsed = parse_proxy_header(received, config.proxy_protocol);
    if (parsed.status == ProxyParseStatus::kNeedMore) continue;
    if (parsed.status == ProxyParseStatus::kInvalid) return parsed.error;
    if (parsed.source) {
      client_ = *parsed.source;
      client_text_ = client_.to_string();
    }
    first_bytes_ = received.substr(parsed.length);
    // Back to the connection's own receive deadline.
    (void)set_receive_timeout(fd_.get(), config.idle_timeout);
    return std::nullopt;
  }
}

void Connection::configure_socket() {
  const ServerConfig& config = context_.config;
  // Failures here are not worth ending the connection over: a socket the peer already reset
  // fails the same way on its first recv(), which reports it properly.
  (void)set_no_delay(fd_.get(), config.no_delay);
  if (config.keepalive.enabled) (void)set_keepalive(fd_.get(), config.keepalive);
  if (config.idle_timeout.count() > 0) (void)set_receive_timeout(fd_.get(), config.idle_timeout);
  if (config.send_timeout.count() > 0) (void)set_send_timeout(fd_.get(), config.send_timeout);
}

Connection::Outcome Connection::serve_messages() {
  const ServerConfig& config = context_.config;
  const bool line_framing = config.framing == Framing::kLine;
  // Most clients send short messages: they are read into a small buffer on the stack, which
  // lives in stack pages the thread has touched anyway, so an idle client costs no buffer
  // memory at all (bench/idle_and_drain.py measured 4-5 KiB per connection for a heap buffer).
  // A client whose read fills it gets the full-size buffer until it goes idle again.
  std::array<char, kSmallReceiveBufferSize> small_buffer;
  ReceiveBuffer large_buffer;
  Outcome outcome;
  if (!first_bytes_.empty()) {
    const bool answered = process(first_bytes_, line_framing, outcome);
    std::string().swap(first_bytes_);  // framed: the framer copied what it still needs
    if (!answered) return outcome;
  }
  const std::size_t kept_reply_capacity = kKeptReplyCapacity + context_.ack.size();
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
        received = receive_queued(fd_.get(), buffer);
        if (nothing_queued(received)) return {CloseReason::kShutdown, {}};
      } else if (drain_shut_down_.load()) {
        // In mid-line, yet the drain shut the read side as if idle: it saw this thread idle just
        // before recv() returned the start of this line (the window between recv() and
        // idle_.store(false) below). The line may still be finished: bytes that arrive after
        // SHUT_RD are queued and readable. But recv() now returns 0 at once instead of waiting
        // and poll() always reports the socket readable, so nothing can block until they come:
        // look every kDrainPollInterval, until the line ends, the peer closes, or the deadline's
        // shut_down() drops it. Only a connection that lost that race ever waits here.
        received = receive_queued(fd_.get(), buffer);
        if (nothing_queued(received)) {
          if (forced_shut_down_.load()) return shut_down_outcome();
          if (peer_finished_sending(fd_.get())) break;
          std::this_thread::sleep_for(kDrainPollInterval);
          continue;
        }
      } else {
        received = receive_some(fd_.get(), buffer);  // the deadline's shut_down() wakes it
      }
    } else if (idle && (large_buffer || replies_.capacity() > kept_reply_capacity)) {
      // At a message boundary, holding what a burst needed. If nothing comes for kIdleAfter, the
      // connection has gone idle: give that memory back before waiting on, so that it costs what
      // any idle connection costs. (The wait delays --idle-timeout by as much. Only clients whose
      // reads filled 1 KiB pay this poll().) The drain's and the deadline's shutdowns wake it.
      if (!wait_readable(fd_.get(), kIdleAfter)) {
        large_buffer.reset();
        if (replies_.capacity() > kept_reply_capacity) LargeBlockString().swap(replies_);
        buffer = small_buffer;
      }
      received = receive_some(fd_.get(), buffer);
    } else {
      received = receive_some(fd_.get(), buffer);
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
      handle_message(last.payload, last.dropped_bytes, outcome) && config.mode == ReplyMode::kAck) {
    (void)flush_replies(outcome);
  }
  return {CloseReason::kPeerClosed, {}};
}

bool Connection::process(std::string_view bytes, bool line_framing, Outcome& outcome) {
  bytes_in_ += bytes.size();
  context_.stats.on_bytes_in(bytes.size());
  if (line_framing) {
    framer_.append(bytes);
    Frame frame;
    while (framer_.next(frame) == FrameStatus::kFrame) {
      if (!handle_message(frame.payload, frame.dropped_bytes, outcome)) return false;
    }
  } else if (!handle_message(bytes, 0, outcome)) {
    return false;
  }
  return context_.config.mode == ReplyMode::kEcho ? echo(bytes, outcome) : flush_replies(outcome);
}

bool Connection::handle_message(std::string_view payload, std::size_t dropped_bytes,
                                Outcome& outcome) {
  ++messages_;
  context_.stats.on_message();
  if (context_.config.log_payloads) {
    formatter_.format(display_, payload, dropped_bytes);
    context_.log.message(id_, client_text_, display_);
  }
  if (context_.config.mode != ReplyMode::kAck) return true;
  // One ack at a time ("ok\n" fits the string itself: no allocation), sent once 16 KiB wait.
  const std::string& ack = context_.ack;
  make_room(replies_, replies_.size() + ack.size(), ack.size());
  replies_ += ack;
  return replies_.size() < kReplyFlushSize || flush_replies(outcome);
}

bool Connection::flush_replies(Outcome& outcome) {
  if (replies_.empty()) return true;
  const std::error_code error = send_all(fd_.get(), replies_);
  if (error) {
    outcome = send_error(error);
    return false;
  }
  context_.stats.on_bytes_out(replies_.size());
  replies_.clear();
  return true;
}

bool Connection::echo(std::string_view bytes, Outcome& outcome) {
  const std::error_code error = send_all(fd_.get(), bytes);
  if (error) {
    outcome = send_error(error);
    return false;
  }
  context_.stats.on_bytes_out(bytes.size());
  return true;
}

Connection::Outcome Connection::shut_down_outcome() const {
  if (framer_.empty()) return {CloseReason::kShutdown, {}};
  return {CloseReason::kShutdown, "an unfinished line was dropped"};
}

Connection::Outcome Connection::receive_error(std::error_code error) const {
  if (forced_shut_down_.load() || drain_shut_down_.load()) return {CloseReason::kShutdown, {}};
  if (is_timeout(error)) {
    return {CloseReason::kIdleTimeout,
            fmt::format("nothing received for {}", format_duration(context_.config.idle_timeout))};
  }
  if (is_peer_gone(error)) return {CloseReason::kReset, {}};
  return {CloseReason::kError, "recv: " + error.message()};
}

Connection::Outcome Connection::send_error(std::error_code error) const {
  if (forced_shut_down_.load() || drain_shut_down_.load()) {
    return {CloseReason::kShutdown, "reply not delivered"};
  }
  if (is_timeout(error)) {
    return {CloseReason::kSendTimeout,
            fmt::format("peer read nothing for {}", format_duration(context_.config.send_timeout))};
  }
  if (is_peer_gone(error)) return {CloseReason::kReset, {}};
  return {CloseReason::kError, "send: " + error.message()};
}

void Connection::reject(RejectReason reason, std::string_view detail) noexcept {
  const std::string& message = context_.config.reject_message;
  if (!message.empty())
    (void)::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // Counted and logged before the close, so a client that sees the close sees itself counted.
  context_.stats.on_rejected(reason);
  try {
    context_.log.rejected(client_text_, reason, detail);
  } catch (...) {
    // Out of memory for the line: the client is refused all the same (and counted).
  }
  context_.registry.remove(this);
  fd_.reset();
}

void Connection::finish(const Outcome& outcome) noexcept {
  // Counted and logged before the close, so a client that sees the close sees it in the log.
  context_.stats.on_closed(outcome.reason);
  try {
    context_.log.disconnected(id_, client_text_, std::chrono::steady_clock::now() - started_,
                              messages_, bytes_in_, outcome.reason, outcome.note);
  } catch (...) {
    // Out of memory for the line: the connection must still leave the registry, or the drain
    // would wait for it for ever.
  }
  context_.registry.remove(this);
  fd_.reset();
}

void Connection::request_drain() noexcept {
  draining_.store(true);
  if (!idle_.load()) return;
  // Idle: wake the thread out of recv() (SHUT_RD, so that a reply still being written is not
  // cut). This may race with a line just arriving; serve_messages() lets that line finish.
  drain_shut_down_.store(true);
  ::shutdown(fd_.get(), SHUT_RD);
}

void Connection::shut_down(int how) noexcept {
  forced_shut_down_.store(true);
  ::shutdown(fd_.get(), how);
}

}  // namespace tcp_server
