#include "tls_stream.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "tcp_server/log_encoder.hpp"
#include "tcp_server/log_format.hpp"
#include "tcp_server/tls_settings.hpp"

namespace tcp_server {

// Bytes of the client's first bytes kept, to tell a plaintext client from a TLS one.
constexpr std::size_t kFirstBytesKept = 16;
// Bytes of a certificate field shown in the log.
constexpr std::size_t kIdentityFieldMax = 128;

struct TlsStream::Transport {
  ByteStream& raw;
  const std::atomic<bool>& read_shut_down;
  std::string ahead;  // read past the PROXY header: given to OpenSSL first
  std::size_t ahead_used = 0;
  std::string first_bytes;  // the first kFirstBytesKept bytes the client sent
  bool not_tls = false;     // they cannot start a TLS handshake
  std::optional<std::chrono::steady_clock::time_point> deadline;  // the handshake's
  bool timed_out = false;
  bool queued_only = false;       // receive_queued(): read without waiting
  bool write_and_forget = false;  // send_without_waiting() and close(): never block
  bool end_of_stream = false;
  std::error_code error;  // of the last transport call that failed

  Transport(ByteStream& raw_stream, const std::atomic<bool>& shut_down)
      : raw(raw_stream), read_shut_down(shut_down) {}
};

namespace {

TlsStream::Transport& transport_of(BIO* bio) {
  return *static_cast<TlsStream::Transport*>(BIO_get_data(bio));
}

void remember_first_bytes(TlsStream::Transport& transport, const char* data, std::size_t size) {
  if (transport.first_bytes.size() >= kFirstBytesKept) return;
  transport.first_bytes.append(data,
                               std::min(size, kFirstBytesKept - transport.first_bytes.size()));
  transport.not_tls = !describe_non_tls(transport.first_bytes).empty();
}

int transport_read(BIO* bio, char* out, std::size_t size, std::size_t* read) {
  TlsStream::Transport& transport = transport_of(bio);
  BIO_clear_retry_flags(bio);
  if (transport.not_tls) return 0;  // no use waiting for the rest of a plaintext line
  if (transport.ahead_used < transport.ahead.size()) {
    const std::size_t n = std::min(size, transport.ahead.size() - transport.ahead_used);
    std::memcpy(out, transport.ahead.data() + transport.ahead_used, n);
    transport.ahead_used += n;
    if (transport.ahead_used == transport.ahead.size()) std::string().swap(transport.ahead);
    remember_first_bytes(transport, out, n);
    *read = n;
    return 1;
  }
  if (transport.deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        *transport.deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      transport.timed_out = true;
      return 0;
    }
    transport.raw.set_receive_timeout(left);
  }
  const std::span<char> buffer(out, size);
  const ReceiveResult received = transport.queued_only ? transport.raw.receive_queued(buffer)
                                                       : transport.raw.receive_some(buffer);
  if (received.error) {
    transport.error = received.error;
    if (is_timeout(received.error)) {
      if (transport.deadline) transport.timed_out = true;
      BIO_set_retry_read(bio);
    }
    return 0;
  }
  if (received.bytes == 0) {
    // Our own shut_down(SHUT_RD) reads as end of stream too; OpenSSL must not take it for the
    // peer's, or it would end the session, and bytes that arrive after it are still read.
    if (transport.read_shut_down.load() && !transport.raw.peer_finished_sending()) {
      BIO_set_retry_read(bio);
      return 0;
    }
    transport.end_of_stream = true;
    return 0;
  }
  remember_first_bytes(transport, out, received.bytes);
  *read = received.bytes;
  return 1;
}

int transport_write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
  TlsStream::Transport& transport = transport_of(bio);
  BIO_clear_retry_flags(bio);
  const std::string_view bytes(data, size);
  if (transport.write_and_forget) {
    transport.raw.send_without_waiting(bytes);
  } else if (const std::error_code error = transport.raw.send_all(bytes)) {
    transport.error = error;
    return 0;
  }
  *written = size;
  return 1;
}

long transport_control(BIO* bio, int command, long, void*) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;  // send_all() has sent it all
    case BIO_CTRL_EOF:
      return transport_of(bio).end_of_stream ? 1 : 0;
    default:
      return 0;
  }
}

int transport_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

// Made once, read-only afterwards; lives as long as the process.
const BIO_METHOD* transport_method() {
  static const BIO_METHOD* const method = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "byte_stream");
    if (made == nullptr) throw std::bad_alloc();
    BIO_meth_set_read_ex(made, transport_read);
    BIO_meth_set_write_ex(made, transport_write);
    BIO_meth_set_ctrl(made, transport_control);
    BIO_meth_set_create(made, transport_create);
    return made;
  }();
  return method;
}

class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int code) const override {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(code));
    return std::string("TLS: ") + (reason != nullptr ? reason : "error");
  }
};

std::error_code tls_error() {
  const unsigned long error = ERR_peek_last_error();
  if (error == 0) return errno_code(EPROTO);
  return {static_cast<int>(ERR_PACK(ERR_GET_LIB(error), 0, ERR_GET_REASON(error))), tls_category()};
}

std::string utf8_text(const ASN1_STRING* text) {
  unsigned char* utf8 = nullptr;
  const int size = ASN1_STRING_to_UTF8(&utf8, text);
  if (size < 0) return {};
  std::string copy(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(size));
  OPENSSL_free(utf8);
  // The client wrote these: escaped like any peer bytes.
  return escape_for_log(copy, kIdentityFieldMax);
}

std::string first_alt_name(X509* certificate) {
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return {};
  std::string text;
  if (sk_GENERAL_NAME_num(names) > 0) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, 0);
    switch (name->type) {
      case GEN_DNS:
        text = "DNS:" + utf8_text(name->d.dNSName);
        break;
      case GEN_EMAIL:
        text = "email:" + utf8_text(name->d.rfc822Name);
        break;
      case GEN_URI:
        text = "URI:" + utf8_text(name->d.uniformResourceIdentifier);
        break;
      case GEN_IPADD: {
        const ASN1_OCTET_STRING* address = name->d.iPAddress;
        std::array<char, INET6_ADDRSTRLEN> buffer{};
        const int family = address->length == 4 ? AF_INET : AF_INET6;
        if ((address->length == 4 || address->length == 16) &&
            ::inet_ntop(family, address->data, buffer.data(), buffer.size()) != nullptr) {
          text = std::string("IP:") + buffer.data();
        }
        break;
      }
      default:
        text = "other";
        break;
    }
  }
  sk_GENERAL_NAME_pop_free(names, GENERAL_NAME_free);
  return text;
}

PeerIdentity identity_of(SSL* ssl) {
  PeerIdentity identity;
  X509* certificate = SSL_get0_peer_certificate(ssl);
  if (certificate == nullptr) return identity;
  X509_NAME* subject = X509_get_subject_name(certificate);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    identity.common_name = utf8_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
  }
  identity.first_san = first_alt_name(certificate);
  return identity;
}

}  // namespace

const std::error_category& tls_category() noexcept {
  static const TlsCategory category;
  return category;
}

TlsStream::TlsStream(std::unique_ptr<ByteStream> raw, std::shared_ptr<const TlsContext> context)
    : raw_(std::move(raw)),
      context_(std::move(context)),
      transport_(std::make_unique<Transport>(*raw_, read_shut_down_)) {}

TlsStream::~TlsStream() = default;

void TlsStream::configure(const StreamOptions& options) noexcept {
  raw_->configure(options);
  receive_timeout_ = options.receive_timeout;
}

void TlsStream::set_receive_timeout(std::chrono::milliseconds timeout) noexcept {
  receive_timeout_ = timeout;
  raw_->set_receive_timeout(timeout);
}

std::optional<std::string> TlsStream::start(std::string& received_ahead) {
  transport_->ahead = std::move(received_ahead);
  received_ahead.clear();
  ssl_.reset(SSL_new(context_->native()));
  if (!ssl_) throw std::bad_alloc();
  BIO* bio = BIO_new(transport_method());
  if (bio == nullptr) throw std::bad_alloc();
  BIO_set_data(bio, transport_.get());
  SSL_set_bio(ssl_.get(), bio, bio);  // the SSL owns it now

  transport_->deadline = std::chrono::steady_clock::now() + context_->handshake_timeout();
  ERR_clear_error();
  const int result = SSL_accept(ssl_.get());
  transport_->deadline.reset();
  raw_->set_receive_timeout(receive_timeout_);
  if (result == 1) {
    established_ = true;
    identity_ = identity_of(ssl_.get());
    return std::nullopt;
  }
  failed_ = true;
  std::string why = handshake_failure(result);
  ERR_clear_error();
  return why;
}

std::string TlsStream::handshake_failure(int result) const {
  const Transport& transport = *transport_;
  if (std::string words = describe_non_tls(transport.first_bytes); !words.empty()) return words;
  const int code = SSL_get_error(ssl_.get(), result);
  const unsigned long error = ERR_peek_last_error();
  if (code == SSL_ERROR_SSL && error != 0 &&
      ERR_GET_REASON(error) != SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    switch (ERR_GET_REASON(error)) {
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        return "no client certificate";
      case SSL_R_CERTIFICATE_VERIFY_FAILED:
        return std::string("client certificate not accepted: ") +
               X509_verify_cert_error_string(SSL_get_verify_result(ssl_.get()));
      default: {
        const char* reason = ERR_reason_error_string(error);
        return reason != nullptr ? reason : "handshake failed";
      }
    }
  }
  if (read_shut_down_.load()) return "the server is shutting down";
  if (transport.timed_out) {
    return "no handshake within " + format_duration(context_->handshake_timeout());
  }
  if (transport.error) {
    if (is_peer_gone(transport.error)) return "reset during the handshake";
    return "recv: " + transport.error.message();
  }
  if (transport.first_bytes.empty()) return "closed before its handshake";
  return "closed during the handshake";
}

std::string TlsStream::session_summary() const {
  if (!established_) return {};
  SSL* ssl = ssl_.get();
  const char* server_name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const unsigned char* protocol = nullptr;
  unsigned int protocol_size = 0;
  SSL_get0_alpn_selected(ssl, &protocol, &protocol_size);
  return fmt::format(
      "{} {}, SNI {}, ALPN {}{}", SSL_get_version(ssl), SSL_get_cipher_name(ssl),
      server_name != nullptr ? escape_for_log(server_name, kIdentityFieldMax) : "none",
      protocol_size > 0
          ? escape_for_log(std::string_view(reinterpret_cast<const char*>(protocol), protocol_size),
                           kIdentityFieldMax)
          : "none",
      SSL_session_reused(ssl) == 1 ? ", resumed" : "");
}

bool TlsStream::has_pending() const {
  // Bytes read ahead that the handshake did not use (a client that sent more than its
  // ClientHello at once) are still to be given to OpenSSL.
  return SSL_has_pending(ssl_.get()) == 1 || transport_->ahead_used < transport_->ahead.size();
}

ReceiveResult TlsStream::read(std::span<char> buffer) {
  Transport& transport = *transport_;
  transport.error.clear();
  ERR_clear_error();
  std::size_t got = 0;
  if (SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &got) == 1) return {got, {}};
  switch (SSL_get_error(ssl_.get(), 0)) {
    case SSL_ERROR_ZERO_RETURN:
      // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) the socket's end of stream.
      if (!transport.end_of_stream) peer_sent_close_notify_ = true;
      return {0, {}};
    case SSL_ERROR_WANT_READ:
      // A receive timeout (the error says so), or our own shut_down(): nothing more now.
      return {0, transport.error};
    case SSL_ERROR_SYSCALL:
      failed_ = true;
      if (transport.error) return {0, transport.error};
      return {0, {}};
    default: {
      failed_ = true;
      const std::error_code error = transport.error ? transport.error : tls_error();
      ERR_clear_error();
      return {0, error};
    }
  }
}

ReceiveResult TlsStream::receive_some(std::span<char> buffer) {
  if (!established_) return raw_->receive_some(buffer);
  // Wait in poll(), not in SSL_read: SSL_read allocates its record buffer (about 17 KiB) before
  // it reads the socket, so a thread blocked in it would hold one for as long as its client is
  // idle. Waiting first leaves an idle connection with no buffers (SSL_MODE_RELEASE_BUFFERS).
  if (!has_pending()) {
    const auto wait =
        receive_timeout_.count() > 0 ? receive_timeout_ : std::chrono::milliseconds(-1);
    if (!raw_->wait_readable(wait)) return {0, errno_code(EAGAIN)};  // as SO_RCVTIMEO says it
  }
  return read(buffer);
}

ReceiveResult TlsStream::receive_queued(std::span<char> buffer) {
  if (!established_) return raw_->receive_queued(buffer);
  transport_->queued_only = true;
  const ReceiveResult received = read(buffer);
  transport_->queued_only = false;
  return received;
}

bool TlsStream::wait_readable(std::chrono::milliseconds timeout) {
  // Decrypted bytes OpenSSL holds are readable without the socket.
  if (established_ && has_pending()) return true;
  return raw_->wait_readable(timeout);
}

bool TlsStream::peer_finished_sending() {
  return peer_sent_close_notify_ || raw_->peer_finished_sending();
}

std::error_code TlsStream::send_all(std::string_view bytes) {
  if (!established_) return raw_->send_all(bytes);
  if (failed_) return errno_code(EPIPE);
  while (!bytes.empty()) {
    transport_->error.clear();
    ERR_clear_error();
    std::size_t written = 0;
    if (SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &written) == 1) {
      bytes.remove_prefix(written);
      continue;
    }
    failed_ = true;
    const std::error_code error = transport_->error ? transport_->error : tls_error();
    ERR_clear_error();
    return error;
  }
  return {};
}

void TlsStream::send_without_waiting(std::string_view bytes) noexcept {
  // Before the handshake there is no way to say anything a TLS client could read.
  if (!established_ || failed_ || bytes.empty()) return;
  transport_->write_and_forget = true;
  std::size_t written = 0;
  if (SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &written) != 1) failed_ = true;
  transport_->write_and_forget = false;
  ERR_clear_error();
}

void TlsStream::shut_down(int how) noexcept {
  if (how == SHUT_RD || how == SHUT_RDWR) read_shut_down_.store(true);
  raw_->shut_down(how);
}

void TlsStream::reset_on_close() noexcept {
  reset_ = true;
  raw_->reset_on_close();
}

void TlsStream::close() noexcept {
  if (ssl_ && established_ && !failed_ && !reset_) {
    // close_notify, best effort: never wait for a peer that does not read, nor for its answer.
    transport_->write_and_forget = true;
    (void)SSL_shutdown(ssl_.get());
    ERR_clear_error();
  }
  ssl_.reset();
  raw_->close();
}

}  // namespace tcp_server
