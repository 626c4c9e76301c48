#pragma once

// What every tcp_client command reads and writes through: a connected socket, plain or TLS.
// The calls never block (the socket is non-blocking); a caller waits for the readiness the
// result asks for (poll in send/chat, epoll in bench). make_stream_connector() picks plain or
// TLS once, so no command has a TLS branch of its own.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "client_options.hpp"
#include "tcp_server/endpoint.hpp"
#include "tcp_server/unique_fd.hpp"

namespace tcp_server::client {

enum class IoStatus {
  kDone,       // handshake finished, or `bytes` moved
  kWantRead,   // try again once the socket is readable
  kWantWrite,  // try again once the socket is writable
  kClosed,     // the peer ended the stream (FIN, or TLS close_notify)
  kFailed,     // see error / message
  kTimedOut,   // only from the blocking helpers below
};

struct IoResult {
  IoStatus status = IoStatus::kDone;
  std::size_t bytes = 0;
  std::error_code error;  // the socket error, when there was one
  std::string message;    // kFailed: one line saying what went wrong (TLS: OpenSSL's reason)

  static IoResult done(std::size_t bytes = 0) { return {IoStatus::kDone, bytes, {}, {}}; }
  static IoResult with(IoStatus status) { return {status, 0, {}, {}}; }
  static IoResult failed(std::string message, std::error_code error = {}) {
    return {IoStatus::kFailed, 0, error, std::move(message)};
  }
};

class ClientStream {
 public:
  ClientStream() = default;
  virtual ~ClientStream() = default;
  ClientStream(const ClientStream&) = delete;
  ClientStream& operator=(const ClientStream&) = delete;

  [[nodiscard]] virtual int fd() const = 0;
  // One step of the handshake (plain: done at once). Call until kDone or a failure.
  virtual IoResult handshake() = 0;
  virtual IoResult read_some(std::span<char> buffer) = 0;
  virtual IoResult write_some(std::string_view bytes) = 0;
  // The end of what we send (plain: FIN; TLS: close_notify); replies can still be read.
  virtual void shutdown_write() = 0;
  // Bytes already taken off the socket (a decrypted TLS record): poll() will not report them.
  [[nodiscard]] virtual bool has_buffered_input() const = 0;
  // TLS: the handshake was a resumption of an earlier session.
  [[nodiscard]] virtual bool resumed() const = 0;
};

// The last session a thread's TLS connections received, offered by its next connection
// (--tls-resume). One per thread: not thread safe.
class TlsSessionStore;

class TlsClientContext;  // tls_client.hpp

// Makes the streams of one run: plain, or TLS with one context (certificates loaded once).
class StreamConnector {
 public:
  StreamConnector() = default;  // plain
  explicit StreamConnector(std::shared_ptr<const TlsClientContext> tls);

  // Takes a connected (or connecting) non-blocking socket. The TLS handshake has not started.
  // sessions: where resumable sessions go and come from (nullptr: none kept).
  [[nodiscard]] std::unique_ptr<ClientStream> wrap(UniqueFd fd, TlsSessionStore* sessions) const;
  [[nodiscard]] bool tls() const { return tls_ != nullptr; }
  [[nodiscard]] bool resume() const;

 private:
  std::shared_ptr<const TlsClientContext> tls_;
};

// Plain unless options.enabled. Throws std::runtime_error with one line naming the option or
// file at fault. With --tls-insecure it says once on err that nothing is verified.
StreamConnector make_stream_connector(const TlsClientOptions& options, const Target& target,
                                      std::ostream& err);

// Blocking use (send, chat), every wait bounded by a deadline (time_point::max(): none).
using StreamClock = std::chrono::steady_clock;

// Connects within timeout and completes the handshake within the same timeout. On failure
// returns nullptr and says why in one line (e.g. "connect to 127.0.0.1:9: Connection refused").
std::unique_ptr<ClientStream> open_stream(const StreamConnector& connector, const Endpoint& server,
                                          std::chrono::milliseconds timeout, std::string& why);
// Every byte, or the first failure (kFailed, kClosed, kTimedOut).
IoResult write_all(ClientStream& stream, std::string_view bytes, StreamClock::time_point deadline);
// Some bytes (kDone), kClosed, kFailed or kTimedOut.
IoResult read_some_until(ClientStream& stream, std::span<char> buffer,
                         StreamClock::time_point deadline);

}  // namespace tcp_server::client
