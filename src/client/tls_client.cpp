#include "tls_client.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "tcp_server/socket.hpp"

namespace tcp_server::client {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The reason of the most recent error on this thread's OpenSSL queue, which it empties.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(code);
  if (reason != nullptr) return reason;
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

// A file OpenSSL is about to read: a missing or unreadable one gets the system's words
// ("No such file or directory") rather than OpenSSL's ("system lib").
void require_readable(const std::string& option, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw std::runtime_error(option + " " + path + ": " + errno_code(errno).message());
  }
  std::fclose(file);
}

// The socket under a TLS stream: what the BIO functions below see through BIO_get_data.
struct SocketState {
  int fd = -1;
  int last_error = 0;  // errno of the last failed send/recv (0: none, or EOF)
};

int socket_write(BIO* bio, const char* data, int size) {
  auto* state = static_cast<SocketState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const ssize_t sent = retry_on_eintr(
      [&] { return ::send(state->fd, data, static_cast<std::size_t>(size), MSG_NOSIGNAL); });
  if (sent >= 0) return static_cast<int>(sent);
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    BIO_set_retry_write(bio);
  } else {
    state->last_error = errno;
  }
  return -1;
}

int socket_read(BIO* bio, char* data, int size) {
  auto* state = static_cast<SocketState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const ssize_t received =
      retry_on_eintr([&] { return ::recv(state->fd, data, static_cast<std::size_t>(size), 0); });
  if (received >= 0) return static_cast<int>(received);
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    BIO_set_retry_read(bio);
  } else {
    state->last_error = errno;
  }
  return -1;
}

long socket_ctrl(BIO* /*bio*/, int command, long /*number*/, void* /*pointer*/) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;  // nothing is buffered here
}

// --tls-resume: a session (TLS 1.3: a ticket, which arrives after the handshake) goes to the
// store of the thread whose connection received it. Returning 1 keeps the reference.
int keep_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* store = static_cast<TlsSessionStore*>(SSL_get_app_data(ssl));
  if (store == nullptr) return 0;
  store->keep(session);
  return 1;
}

// OpenSSL fills a certificate's cached extensions (key identifiers, flags) the first time a
// verification looks at it, and a reader of the CA certificates shared by every thread of a run
// can see that half done (ThreadSanitizer did, with two first handshakes at once). Done here,
// before any thread starts.
void cache_certificate_extensions(X509_STORE* store) {
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509* certificate = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
    if (certificate != nullptr) X509_check_purpose(certificate, -1, 0);
  }
}

struct SslDeleter {
  void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

class TlsStream final : public ClientStream {
 public:
  TlsStream(UniqueFd fd, SSL* ssl, BIO_METHOD* method, const std::optional<Sha256>& pin,
            bool verify, std::string server_name)
      : fd_(std::move(fd)),
        socket_{.fd = fd_.get()},
        ssl_(ssl),
        pin_(pin),
        verify_(verify),
        server_name_(std::move(server_name)) {
    BIO* bio = BIO_new(method);
    if (bio == nullptr) throw std::runtime_error("TLS: BIO_new: " + openssl_reason());
    BIO_set_data(bio, &socket_);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl_.get(), bio, bio);  // the SSL owns the BIO from here
    SSL_set_connect_state(ssl_.get());
  }

  ~TlsStream() override { shutdown_write(); }
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  [[nodiscard]] int fd() const override { return fd_.get(); }

  IoResult handshake() override {
    prepare();
    const int result = SSL_connect(ssl_.get());
    if (result != 1) return failure(result, true);
    if (pin_) {
      if (auto mismatch = check_pin()) {
        failed_ = true;
        return IoResult::failed(*mismatch);
      }
    }
    established_ = true;
    return IoResult::done();
  }

  IoResult read_some(std::span<char> buffer) override {
    prepare();
    std::size_t total = 0;
    if (SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &total) != 1) {
      return failure(0, false);
    }
    // A record already decrypted would not wake epoll/poll again: take it now.
    while (total < buffer.size() && SSL_pending(ssl_.get()) > 0) {
      std::size_t more = 0;
      if (SSL_read_ex(ssl_.get(), buffer.data() + total, buffer.size() - total, &more) != 1) break;
      total += more;
    }
    ERR_clear_error();
    return IoResult::done(total);
  }

  IoResult write_some(std::string_view bytes) override {
    if (bytes.empty()) return IoResult::done();
    prepare();
    std::size_t written = 0;
    if (SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &written) != 1) {
      return failure(0, false);
    }
    return IoResult::done(written);
  }

  // close_notify, once, best effort (the socket is non-blocking).
  void shutdown_write() override {
    if (!established_ || failed_ || shut_down_) return;
    shut_down_ = true;
    prepare();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
    // SSL_shutdown refuses while a post-handshake message (a ticket) is half read, and SSL_free
    // then marks the session not resumable (SSL_free(3)): this connection ended well, say so.
    SSL_set_shutdown(ssl_.get(), SSL_get_shutdown(ssl_.get()) | SSL_SENT_SHUTDOWN);
  }

  [[nodiscard]] bool has_buffered_input() const override {
    return SSL_has_pending(ssl_.get()) == 1;
  }
  [[nodiscard]] bool resumed() const override { return SSL_session_reused(ssl_.get()) == 1; }

 private:
  // SSL_get_error reads this thread's error queue and our errno: both must be fresh.
  void prepare() {
    ERR_clear_error();
    socket_.last_error = 0;
  }

  IoResult failure(int result, bool handshaking) {
    const int code = SSL_get_error(ssl_.get(), result);
    switch (code) {
      case SSL_ERROR_WANT_READ:
        return IoResult::with(IoStatus::kWantRead);
      case SSL_ERROR_WANT_WRITE:
        return IoResult::with(IoStatus::kWantWrite);
      case SSL_ERROR_ZERO_RETURN:
        if (!handshaking) return IoResult::with(IoStatus::kClosed);
        break;
      default:
        break;
    }
    failed_ = true;
    if (socket_.last_error != 0) {
      const std::error_code error = errno_code(socket_.last_error);
      return IoResult::failed(error.message(), error);
    }
    if (handshaking && verify_) {
      const long verified = SSL_get_verify_result(ssl_.get());
      if (verified != X509_V_OK) {
        ERR_clear_error();
        std::string message =
            std::string("certificate verify failed: ") + X509_verify_cert_error_string(verified);
        if (verified == X509_V_ERR_HOSTNAME_MISMATCH ||
            verified == X509_V_ERR_IP_ADDRESS_MISMATCH) {
          message += " (checked '" + server_name_ + "'; --tls-server-name sets the name)";
        }
        return IoResult::failed(message);
      }
    }
    if (code == SSL_ERROR_SSL) {
      // The usual reason for this one: a plaintext server answered the ClientHello.
      const bool not_tls = handshaking && ERR_GET_LIB(ERR_peek_last_error()) == ERR_LIB_SSL &&
                           ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_WRONG_VERSION_NUMBER;
      std::string reason = openssl_reason();
      if (not_tls) reason += " (the server's answer is not TLS)";
      return IoResult::failed(reason);
    }
    ERR_clear_error();
    if (handshaking)
      return IoResult::failed("the server closed the connection during the handshake");
    // End of stream without close_notify, after ours was sent (SSL_OP_IGNORE_UNEXPECTED_EOF
    // covers the case before): the end of the stream, as for a plain socket.
    return IoResult::with(IoStatus::kClosed);
  }

  std::optional<std::string> check_pin() const {
    X509* leaf = SSL_get0_peer_certificate(ssl_.get());
    if (leaf == nullptr) return "the server sent no certificate to check --tls-pin against";
    Sha256 digest{};
    unsigned int length = 0;
    if (X509_digest(leaf, EVP_sha256(), digest.data(), &length) != 1 || length != digest.size()) {
      return "cannot compute the server certificate's SHA-256: " + openssl_reason();
    }
    if (digest == *pin_) return std::nullopt;
    return "certificate pin mismatch: the server's certificate is SHA256 " +
           format_fingerprint(digest) + ", --tls-pin is " + format_fingerprint(*pin_);
  }

  UniqueFd fd_;  // declared first: closed after the SSL is freed
  SocketState socket_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::optional<Sha256> pin_;
  bool verify_;
  std::string server_name_;
  bool established_ = false;
  bool failed_ = false;  // after a fatal error OpenSSL forbids SSL_shutdown
  bool shut_down_ = false;
};

}  // namespace

std::unique_ptr<SSL_SESSION, SslSessionDeleter> TlsSessionStore::offer() const {
  if (!newest_ || SSL_SESSION_is_resumable(newest_.get()) != 1) return nullptr;
  return std::unique_ptr<SSL_SESSION, SslSessionDeleter>(SSL_SESSION_dup(newest_.get()));
}

std::optional<Sha256> parse_sha256_fingerprint(std::string_view text) {
  Sha256 digest{};
  std::size_t filled = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (filled == digest.size()) return std::nullopt;
    if (i + 1 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i]);
    const int low = hex_value(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    digest[filled++] = static_cast<unsigned char>(high * 16 + low);
    i += 2;
    // One colon between byte pairs, never at either end.
    if (i < text.size() && text[i] == ':') {
      if (i + 1 == text.size()) return std::nullopt;
      ++i;
    }
  }
  if (filled != digest.size()) return std::nullopt;
  return digest;
}

std::string format_fingerprint(const Sha256& digest) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string text;
  text.reserve(digest.size() * 3);
  for (const unsigned char byte : digest) {
    if (!text.empty()) text += ':';
    text += kHex[byte >> 4];
    text += kHex[byte & 0x0f];
  }
  return text;
}

TlsClientContext::TlsClientContext(const TlsClientOptions& options, const std::string& host)
    : context_(SSL_CTX_new(TLS_client_method())),
      server_name_(options.server_name.empty() ? host : options.server_name),
      resume_(options.resume) {
  if (!context_) throw std::runtime_error("TLS: cannot create a context: " + openssl_reason());
  SSL_CTX* context = context_.get();
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  // The bench loop resends from a buffer that moves (std::string::erase) and takes what fits.
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Echo servers (socat, Node) often close without close_notify; for a test client that is
  // the end of the stream, not an attack on it.
  SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF);

  if (!options.pin.empty()) {
    pin_ = parse_sha256_fingerprint(options.pin);
    if (!pin_) {
      throw std::runtime_error("--tls-pin: '" + options.pin +
                               "' is not a SHA-256 fingerprint (64 hex digits, colons optional)");
    }
  }
  // A pin names the one certificate to accept: chain and name checks would only refuse a
  // self-signed one the user has explicitly pinned.
  verify_ = !options.insecure && !pin_;
  SSL_CTX_set_verify(context, verify_ ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (verify_) {
    if (!options.ca_file.empty()) {
      require_readable("--tls-ca", options.ca_file);
      if (SSL_CTX_load_verify_file(context, options.ca_file.c_str()) != 1) {
        throw std::runtime_error("--tls-ca " + options.ca_file + ": no PEM certificate in it (" +
                                 openssl_reason() + ")");
      }
      cache_certificate_extensions(SSL_CTX_get_cert_store(context));
    } else if (SSL_CTX_set_default_verify_paths(context) != 1) {
      throw std::runtime_error("TLS: cannot load the system's trust store: " + openssl_reason());
    }
  }

  if (options.cert_file.empty() != options.key_file.empty()) {
    throw std::runtime_error(options.cert_file.empty() ? "--tls-key needs --tls-cert"
                                                       : "--tls-cert needs --tls-key");
  }
  if (!options.cert_file.empty()) {
    require_readable("--tls-cert", options.cert_file);
    if (SSL_CTX_use_certificate_chain_file(context, options.cert_file.c_str()) != 1) {
      throw std::runtime_error("--tls-cert " + options.cert_file + ": not a PEM certificate (" +
                               openssl_reason() + ")");
    }
    require_readable("--tls-key", options.key_file);
    if (SSL_CTX_use_PrivateKey_file(context, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        throw std::runtime_error("--tls-key " + options.key_file +
                                 " does not match the certificate in --tls-cert " +
                                 options.cert_file);
      }
      throw std::runtime_error("--tls-key " + options.key_file + ": not a PEM private key (" +
                               openssl_reason() + ")");
    }
    if (SSL_CTX_check_private_key(context) != 1) {
      ERR_clear_error();
      throw std::runtime_error("--tls-key " + options.key_file +
                               " does not match the certificate in --tls-cert " +
                               options.cert_file);
    }
  }

  if (resume_) {
    // No internal cache: the callback hands each new session to the thread that got it.
    SSL_CTX_set_session_cache_mode(context,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(context, keep_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  }

  socket_method_.reset(
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tcp_client socket"));
  if (!socket_method_ || BIO_meth_set_write(socket_method_.get(), socket_write) != 1 ||
      BIO_meth_set_read(socket_method_.get(), socket_read) != 1 ||
      BIO_meth_set_ctrl(socket_method_.get(), socket_ctrl) != 1) {
    throw std::runtime_error("TLS: cannot set up the socket BIO: " + openssl_reason());
  }
}

std::unique_ptr<ClientStream> TlsClientContext::wrap(UniqueFd fd, TlsSessionStore* sessions) const {
  std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(context_.get()));
  if (!ssl) throw std::runtime_error("TLS: SSL_new: " + openssl_reason());
  const bool ip_literal = Endpoint::from_ip(server_name_, 0).has_value();
  // SNI carries host names only (RFC 6066 section 3); an address is checked against IP SANs.
  if (!ip_literal) SSL_set_tlsext_host_name(ssl.get(), server_name_.c_str());
  if (verify_) {
    X509_VERIFY_PARAM* parameters = SSL_get0_param(ssl.get());
    X509_VERIFY_PARAM_set_hostflags(parameters, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(parameters, server_name_.c_str())
                               : X509_VERIFY_PARAM_set1_host(parameters, server_name_.c_str(), 0);
    if (set != 1) throw std::runtime_error("TLS: cannot check the name '" + server_name_ + "'");
  }
  if (sessions != nullptr) {
    SSL_set_app_data(ssl.get(), sessions);
    if (resume_) {
      if (const auto session = sessions->offer()) SSL_set_session(ssl.get(), session.get());
    }
  }
  return std::make_unique<TlsStream>(std::move(fd), ssl.release(), socket_method_.get(), pin_,
                                     verify_, server_name_);
}

}  // namespace tcp_server::client
