#pragma once

// tcp_client's TLS (OpenSSL 3): one SSL_CTX per run built from TlsClientOptions, and a
// ClientStream per connection. Verification is the CA file (or the system's trust store) plus
// the server name, or a pin of the server certificate's SHA-256, or nothing (--tls-insecure).

#include <openssl/ssl.h>

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "client_stream.hpp"

namespace tcp_server::client {

using Sha256 = std::array<unsigned char, 32>;

// A SHA-256 fingerprint as people paste it: 64 hex digits, either case, with or without a
// colon between byte pairs (`openssl x509 -fingerprint -sha256` prints "AB:CD:..."). nullopt
// for anything else.
std::optional<Sha256> parse_sha256_fingerprint(std::string_view text);
// "AB:CD:...", the form openssl prints.
std::string format_fingerprint(const Sha256& digest);

struct SslCtxDeleter {
  void operator()(SSL_CTX* context) const noexcept { SSL_CTX_free(context); }
};
struct SslSessionDeleter {
  void operator()(SSL_SESSION* session) const noexcept { SSL_SESSION_free(session); }
};
struct BioMethodDeleter {
  void operator()(BIO_METHOD* method) const noexcept { BIO_meth_free(method); }
};

// The newest session (TLS 1.3: ticket) a thread's connections received, offered by each of
// its next connections until a newer one arrives. Offered as a copy: OpenSSL's client marks a
// TLS 1.3 session not resumable once it has resumed with it (RFC 8446 C.4 would have a client
// use a ticket once), and OpenSSL-based servers send two tickets after a full handshake but
// none after a resumption, so single use would make every third handshake a full one. A server
// that does hold tickets to one use then does full handshakes, and the count says so.
class TlsSessionStore {
 public:
  void keep(SSL_SESSION* session) { newest_.reset(session); }  // takes the reference
  // A copy of the newest resumable session; nullptr when there is none.
  [[nodiscard]] std::unique_ptr<SSL_SESSION, SslSessionDeleter> offer() const;

 private:
  std::unique_ptr<SSL_SESSION, SslSessionDeleter> newest_;
};

class TlsClientContext {
 public:
  // host: the target's --host, the name verified when options.server_name is empty. Throws
  // std::runtime_error, one line naming the option or file at fault.
  TlsClientContext(const TlsClientOptions& options, const std::string& host);

  // A stream over a connected non-blocking socket; its handshake starts at the first step.
  // The context must outlive it (its BIO uses the context's BIO_METHOD).
  [[nodiscard]] std::unique_ptr<ClientStream> wrap(UniqueFd fd, TlsSessionStore* sessions) const;
  [[nodiscard]] bool resume() const { return resume_; }

 private:
  std::unique_ptr<SSL_CTX, SslCtxDeleter> context_;
  // Sends with MSG_NOSIGNAL: OpenSSL's socket BIO write()s, and a peer that reset would raise
  // SIGPIPE, which a library must not ignore process-wide.
  std::unique_ptr<BIO_METHOD, BioMethodDeleter> socket_method_;
  std::string server_name_;  // SNI (not for an IP literal) and the name verified
  std::optional<Sha256> pin_;
  bool verify_ = true;
  bool resume_ = false;
};

}  // namespace tcp_server::client
