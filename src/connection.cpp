#include "connection.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <memory>
#include <span>

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
    outcome = {CloseReason::kError, error.what()};
  } catch (...) {
    outcome = {CloseReason::kError, "unknown exception"};
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
  // A client whose read fills it gets the full-size buffer, left uninitialized so that only
  // the pages recv() fills become resident.
  std::array<char, kSmallReceiveBufferSize> small_buffer;
  std::unique_ptr<char[]> large_buffer;
  std::span<char> buffer(small_buffer);
  Outcome outcome;
  if (!first_bytes_.empty() && !process(first_bytes_, line_framing, outcome)) return outcome;
  for (;;) {
    // Publish idleness before reading draining_; request_drain() does the reverse. With both
    // sequentially consistent, at least one side sees the other, so an idle connection is
    // either closed here or shut down by the drain, never left waiting.
    const bool idle = framer_.empty();
    idle_.store(idle);
    if (idle && draining_.load()) return {CloseReason::kShutdown, {}};

    const ReceiveResult received = receive_some(fd_.get(), buffer);
    idle_.store(false);
    if (received.error) return receive_error(received.error);
    if (received.bytes == 0) break;

    if (received.bytes == buffer.size() && !large_buffer) {
      large_buffer = std::make_unique_for_overwrite<char[]>(kReceiveBufferSize);
    }
    if (!process(std::string_view(buffer.data(), received.bytes), line_framing, outcome)) {
      return outcome;
    }
    if (large_buffer) buffer = std::span<char>(large_buffer.get(), kReceiveBufferSize);
  }

  // End of stream.
  if (shut_down_by_server_.load()) {
    if (framer_.empty()) return {CloseReason::kShutdown, {}};
    return {CloseReason::kShutdown, "an unfinished line was dropped"};
  }
  // A peer that half-closes after an unterminated last line (printf 'hi' | nc -N) still gets
  // that line logged and answered.
  Frame last;
  if (line_framing && framer_.finish(last)) {
    handle_message(last.payload, last.dropped_bytes);
    if (config.mode == ReplyMode::kAck) (void)flush_replies(outcome);
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
      handle_message(frame.payload, frame.dropped_bytes);
    }
  } else {
    handle_message(bytes, 0);
  }
  return context_.config.mode == ReplyMode::kEcho ? echo(bytes, outcome) : flush_replies(outcome);
}

void Connection::handle_message(std::string_view payload, std::size_t dropped_bytes) {
  ++messages_;
  context_.stats.on_message();
  if (context_.config.log_payloads) {
    formatter_.format(display_, payload, dropped_bytes);
    context_.log.message(id_, client_text_, display_);
  }
  if (context_.config.mode == ReplyMode::kAck) replies_ += context_.ack;
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

Connection::Outcome Connection::receive_error(std::error_code error) const {
  if (shut_down_by_server_.load()) return {CloseReason::kShutdown, {}};
  if (is_timeout(error)) {
    return {CloseReason::kIdleTimeout,
            fmt::format("nothing received for {}", format_duration(context_.config.idle_timeout))};
  }
  if (is_peer_gone(error)) return {CloseReason::kReset, {}};
  return {CloseReason::kError, "recv: " + error.message()};
}

Connection::Outcome Connection::send_error(std::error_code error) const {
  if (shut_down_by_server_.load()) return {CloseReason::kShutdown, "reply not delivered"};
  if (is_timeout(error)) {
    return {CloseReason::kSendTimeout,
            fmt::format("peer read nothing for {}", format_duration(context_.config.send_timeout))};
  }
  if (is_peer_gone(error)) return {CloseReason::kReset, {}};
  return {CloseReason::kError, "send: " + error.message()};
}

void Connection::reject(RejectReason reason, std::string_view detail) {
  const std::string& message = context_.config.reject_message;
  if (!message.empty())
    (void)::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // Counted and logged before the close, so a client that sees the close sees itself counted.
  context_.stats.on_rejected(reason);
  context_.log.rejected(client_text_, reason, detail);
  context_.registry.remove(this);
  fd_.reset();
}

void Connection::finish(const Outcome& outcome) {
  // Counted and logged before the close, so a client that sees the close sees it in the log.
  context_.stats.on_closed(outcome.reason);
  context_.log.disconnected(id_, client_text_, std::chrono::steady_clock::now() - started_,
                            messages_, bytes_in_, outcome.reason, outcome.note);
  context_.registry.remove(this);
  fd_.reset();
}

void Connection::request_drain() noexcept {
  draining_.store(true);
  if (idle_.load()) shut_down(SHUT_RD);
}

void Connection::shut_down(int how) noexcept {
  shut_down_by_server_.store(true);
  ::shutdown(fd_.get(), how);
}

}  // namespace tcp_server
