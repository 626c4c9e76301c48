#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "tcp_server/socket.hpp"

namespace tcp_server {

// How a client's stream is set up before it is served (the socket options of --no-delay,
// --keepalive, --idle-timeout and --send-timeout).
struct StreamOptions {
  bool no_delay = true;
  KeepaliveSettings keepalive;
  std::chrono::milliseconds receive_timeout{0};  // 0: wait for ever
  std::chrono::milliseconds send_timeout{0};     // 0: wait for ever
};

// Who the peer proved to be while its stream started (TLS: its client certificate), for the
// connected line. Already escaped for the log; empty when it proved nothing.
struct PeerIdentity {
  std::string common_name;  // the subject's CN
  std::string first_san;    // the first subjectAltName, "DNS:a.example", "IP:10.0.0.1", ...
  [[nodiscard]] bool empty() const noexcept { return common_name.empty() && first_san.empty(); }
};

// One client's bytes, both ways: all a connection reads from and writes to, so that it never
// calls a socket function itself. The plain socket (src/socket_stream.hpp) is the first
// implementation; TLS would be a second, wrapping the plain one once its PROXY header is read.
// Not thread safe, except shut_down(), which the drain calls from other threads to wake the one
// serving the stream out of a blocking call.
class ByteStream {
 public:
  ByteStream() = default;
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;
  virtual ~ByteStream() = default;

  // The connection has admitted its client (PROXY header, access rules, limits): client is its
  // real address, the one a PROXY header named or the peer. What was received so far was the
  // PROXY header, except first_bytes: received with it, they begin the conversation. A stream
  // that records the conversation (--pcap's CaptureStream) starts here; a stream that wraps
  // another passes it on.
  virtual void on_admitted(const Endpoint& client, std::string_view first_bytes) noexcept {
    (void)client;
    (void)first_bytes;
  }

  // Failures are ignored: a stream the peer already reset fails the same way on its first
  // receive, which reports it properly.
  virtual void configure(const StreamOptions& options) noexcept = 0;
  virtual void set_receive_timeout(std::chrono::milliseconds timeout) noexcept = 0;

  // Called once at admission, after any PROXY header was read from the raw stream and before
  // the first message: a stream with a handshake (TLS) does it here, bounded by its own timeout.
  // received_ahead: bytes already read past the PROXY header; a stream that consumes them (the
  // start of a ClientHello) leaves it empty, otherwise they are the start of the first message.
  // Returns why the client is refused, when it is.
  virtual std::optional<std::string> start(std::string& received_ahead) {
    (void)received_ahead;
    return std::nullopt;
  }
  // After start(): who the peer proved to be, and a line about the session for debug logs.
  [[nodiscard]] virtual PeerIdentity peer_identity() const { return {}; }
  [[nodiscard]] virtual std::string session_summary() const { return {}; }

  // Waits up to the receive timeout (which then shows as is_timeout()); 0 bytes and no error is
  // the end of the stream.
  virtual ReceiveResult receive_some(std::span<char> buffer) = 0;
  // Without waiting: what is queued now, or a timeout error. After shut_down(SHUT_RD) bytes that
  // arrive are still queued and readable; 0 bytes then only means none is queued now.
  virtual ReceiveResult receive_queued(std::span<char> buffer) = 0;
  // True when something can be received (or the stream ended, or failed) within timeout.
  virtual bool wait_readable(std::chrono::milliseconds timeout) = 0;
  // True once the peer has finished sending: no more bytes will come. Unlike receive_some()'s
  // end of stream, never true because of our own shut_down(SHUT_RD). False when it cannot tell.
  virtual bool peer_finished_sending() = 0;

  // Every byte, or why not (is_peer_gone(), is_timeout() for the send timeout).
  virtual std::error_code send_all(std::string_view bytes) = 0;
  // Best effort and never blocking: what fits is sent, the rest is dropped.
  virtual void send_without_waiting(std::string_view bytes) noexcept = 0;

  // how as for shutdown(2): SHUT_RD or SHUT_RDWR. Thread safe until close().
  virtual void shut_down(int how) noexcept = 0;
  // The coming close() resets the connection rather than ending it in order: the peer sees
  // ECONNRESET. (Closing is left to close(), so that the holder still leaves the registry first.)
  virtual void reset_on_close() noexcept = 0;
  virtual void close() noexcept = 0;
};

}  // namespace tcp_server
