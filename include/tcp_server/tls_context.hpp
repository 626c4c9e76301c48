#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tcp_server/tls_settings.hpp"

struct ssl_ctx_st;

namespace tcp_server {

// The server's TLS configuration, built once at start from TlsSettings (OpenSSL 3's SSL_CTX):
// certificate and key (loaded or generated), client verification, protocol floor, server cipher
// preference, session tickets, released buffers. Every connection's session is made from it.
// Immutable after create(): thread safe.
class TlsContext {
 public:
  // host: the --host name, added to a generated certificate. Throws std::runtime_error with one
  // line naming the option and file and what is wrong ("--tls-key key.pem: not a PEM private
  // key"). Problems that still allow serving (an expired certificate) go to warnings.
  static TlsContext create(const TlsSettings& settings, std::string_view host,
                           std::vector<std::string>& warnings);

  [[nodiscard]] ssl_ctx_st* native() const noexcept { return context_.get(); }
  // SHA-256 of the server certificate's DER, as format_fingerprint() writes it.
  [[nodiscard]] const std::string& fingerprint() const noexcept { return fingerprint_; }
  [[nodiscard]] std::chrono::milliseconds handshake_timeout() const noexcept {
    return handshake_timeout_;
  }

 private:
  struct FreeContext {
    void operator()(ssl_ctx_st* context) const noexcept;
  };
  std::unique_ptr<ssl_ctx_st, FreeContext> context_;
  std::string fingerprint_;
  std::chrono::milliseconds handshake_timeout_{0};
};

}  // namespace tcp_server
