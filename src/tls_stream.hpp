#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "openssl_handles.hpp"
#include "tcp_server/byte_stream.hpp"
#include "tcp_server/tls_context.hpp"

namespace tcp_server {

// A ByteStream that speaks TLS (OpenSSL, blocking, on the connection's own thread) over another
// ByteStream, the plain socket it owns. Until start() it is that plain stream (the PROXY header
// is read from it); start() runs the server side of the handshake, bounded by the context's
// handshake timeout, over whatever bytes were read ahead and then the socket. Every contract of
// ByteStream holds through it: receive timeouts and the send timeout are the socket's, queued
// reads never wait, shut_down() (thread safe) shuts the socket down, which wakes SSL_read, and
// close() sends close_notify when the session is sound and not being reset.
class TlsStream final : public ByteStream {
 public:
  // The stream keeps context alive: a reload that replaces the server's context leaves it alone.
  TlsStream(std::unique_ptr<ByteStream> raw, std::shared_ptr<const TlsContext> context);
  ~TlsStream() override;

  void configure(const StreamOptions& options) noexcept override;
  void set_receive_timeout(std::chrono::milliseconds timeout) noexcept override;

  std::optional<std::string> start(std::string& received_ahead) override;
  [[nodiscard]] PeerIdentity peer_identity() const override { return identity_; }
  [[nodiscard]] std::string session_summary() const override;

  ReceiveResult receive_some(std::span<char> buffer) override;
  ReceiveResult receive_queued(std::span<char> buffer) override;
  bool wait_readable(std::chrono::milliseconds timeout) override;
  bool peer_finished_sending() override;

  std::error_code send_all(std::string_view bytes) override;
  void send_without_waiting(std::string_view bytes) noexcept override;

  void shut_down(int how) noexcept override;
  void reset_on_close() noexcept override;
  void close() noexcept override;

  // What OpenSSL reads from and writes to: the bytes read ahead, then the plain stream. Public
  // for the BIO callbacks in tls_stream.cpp, which are its only users.
  struct Transport;

 private:
  ReceiveResult read(std::span<char> buffer);
  // Decrypted bytes, records or bytes read ahead are waiting: readable without the socket.
  [[nodiscard]] bool has_pending() const;
  std::string handshake_failure(int result) const;

  const std::unique_ptr<ByteStream> raw_;
  const std::shared_ptr<const TlsContext> context_;
  std::unique_ptr<Transport> transport_;
  SslHandle ssl_;  // after transport_: freed first
  std::atomic<bool> read_shut_down_{false};
  std::chrono::milliseconds receive_timeout_{0};
  bool established_ = false;  // the handshake completed
  bool failed_ = false;       // a fatal TLS or socket error: no close_notify
  bool reset_ = false;
  bool peer_sent_close_notify_ = false;
  PeerIdentity identity_;
};

// The error category of TLS failures on an established stream ("recv: TLS: bad record mac").
const std::error_category& tls_category() noexcept;

}  // namespace tcp_server
