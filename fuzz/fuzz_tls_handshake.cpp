// Arbitrary bytes as the client's side of a TLS handshake, into the server's TLS setup (the
// SSL_CTX TlsContext builds: generated certificate, client certificates optional against a
// CA, TLS 1.2 floor, ALPN selection) through a memory BIO pair: record and ClientHello parsing,
// extensions, version negotiation, client certificates, alerts. The server's answers are read
// and dropped; the input is given in pieces of at most 512 bytes, as a network would.
// Debian's libssl is not built with coverage instrumentation, so libFuzzer sees little of what
// OpenSSL does with each input: the real ClientHellos in fuzz/seeds/fuzz_tls_handshake are what
// get it past the record layer, and its mutations of them are what this explores (with ASan and
// UBSan on our side of every call).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tcp_server/tls_context.hpp"

namespace {

const tcp_server::TlsContext& server_context() {
  static const tcp_server::TlsContext context = [] {
    // The generated certificate, written out, is the CA client certificates are checked
    // against: the same files an operator would give.
    std::string ca_path = "/tmp/fuzz_tls_handshake_ca_XXXXXX";
    const int fd = ::mkstemp(ca_path.data());
    if (fd < 0) std::abort();
    ::close(fd);
    std::vector<std::string> warnings;
    (void)tcp_server::TlsContext::create({.self_signed = true, .cert_out_path = ca_path},
                                         "localhost", warnings);
    tcp_server::TlsContext made =
        tcp_server::TlsContext::create({.self_signed = true,
                                        .client_ca_path = ca_path,
                                        .verify_client = tcp_server::ClientVerification::kOptional},
                                       "localhost", warnings);
    ::unlink(ca_path.c_str());
    return made;
  }();
  return context;
}

void drop_output(BIO* network) {
  std::array<char, 4096> buffer;
  std::size_t read = 0;
  while (BIO_read_ex(network, buffer.data(), buffer.size(), &read) == 1) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kPiece = 512;
  SSL* ssl = SSL_new(server_context().native());
  BIO* internal = nullptr;
  BIO* network = nullptr;
  if (ssl == nullptr || BIO_new_bio_pair(&internal, 0, &network, 0) != 1) std::abort();
  SSL_set_bio(ssl, internal, internal);
  SSL_set_accept_state(ssl);

  std::size_t offset = 0;
  bool failed = false;
  while (!failed) {
    std::size_t written = 0;
    const std::size_t piece = std::min(kPiece, size - offset);
    if (piece > 0 && BIO_write_ex(network, data + offset, piece, &written) == 1) offset += written;
    if (SSL_is_init_finished(ssl) == 1) {
      std::array<char, 1024> buffer;
      std::size_t read = 0;
      while (SSL_read_ex(ssl, buffer.data(), buffer.size(), &read) == 1) {
      }
      const int error = SSL_get_error(ssl, 0);
      failed = error != SSL_ERROR_WANT_READ;
    } else {
      const int result = SSL_do_handshake(ssl);
      failed = result <= 0 && SSL_get_error(ssl, result) != SSL_ERROR_WANT_READ;
    }
    drop_output(network);
    if (piece == 0 || written == 0) break;  // all given (or the pair is full): done
  }
  SSL_free(ssl);
  BIO_free(network);
  ERR_clear_error();
  return 0;
}
