#include "tcp_server/tls_context.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "openssl_handles.hpp"
#include "tcp_server/unique_fd.hpp"

namespace tcp_server {
namespace {

// Larger than any certificate chain or key anyone means to give us.
constexpr off_t kMaxPemFileSize = 1 << 20;

[[noreturn]] void fail(std::string what) {
  ERR_clear_error();
  throw std::runtime_error(std::move(what));
}

std::string read_pem_file(std::string_view option, const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) fail(fmt::format("{} {}: cannot read: {}", option, path, std::strerror(errno)));
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0 || !S_ISREG(status.st_mode)) {
    fail(fmt::format("{} {}: not a regular file", option, path));
  }
  if (status.st_size > kMaxPemFileSize) {
    fail(fmt::format("{} {}: {} bytes, too large for a PEM file", option, path, status.st_size));
  }
  std::string text(static_cast<std::size_t>(status.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(fmt::format("{} {}: cannot read: {}", option, path, std::strerror(errno)));
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  text.resize(done);
  return text;
}

BioHandle memory_bio(const std::string& text) {
  BioHandle bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) throw std::bad_alloc();
  return bio;
}

std::vector<X509Handle> parse_certificates(std::string_view option, const std::string& path,
                                           const std::string& pem) {
  std::vector<X509Handle> certificates;
  const BioHandle bio = memory_bio(pem);
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(certificate);
  }
  ERR_clear_error();  // the end of the PEM text shows as an error
  if (certificates.empty()) {
    if (pem.find("PRIVATE KEY-----") != std::string::npos) {
      fail(fmt::format("{} {}: holds a private key, not a certificate", option, path));
    }
    fail(fmt::format("{} {}: not a PEM certificate (no readable \"BEGIN CERTIFICATE\" block)",
                     option, path));
  }
  return certificates;
}

// A passphrase callback that gives none: an encrypted key fails to load instead of prompting.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

KeyHandle parse_private_key(const std::string& path, const std::string& pem) {
  const BioHandle bio = memory_bio(pem);
  KeyHandle key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (key) return key;
  if (pem.find("ENCRYPTED") != std::string::npos) {
    fail(
        fmt::format("--tls-key {}: the key is encrypted; give it unencrypted "
                    "(openssl pkey -in {} -out plain.pem)",
                    path, path));
  }
  if (pem.find("CERTIFICATE-----") != std::string::npos &&
      pem.find("PRIVATE KEY-----") == std::string::npos) {
    fail(fmt::format("--tls-key {}: holds a certificate, not a private key", path));
  }
  fail(fmt::format("--tls-key {}: not a PEM private key (RSA, ECDSA or Ed25519)", path));
}

std::string asn1_time_text(const ASN1_TIME* time) {
  BioHandle bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), time) != 1) return "?";
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

void warn_about_validity(const std::string& path, X509* certificate,
                         std::vector<std::string>& warnings) {
  if (X509_cmp_current_time(X509_get0_notAfter(certificate)) < 0) {
    warnings.push_back(fmt::format(
        "--tls-cert {}: the certificate expired on {}; clients that check it will refuse it", path,
        asn1_time_text(X509_get0_notAfter(certificate))));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(certificate)) > 0) {
    warnings.push_back(fmt::format("--tls-cert {}: the certificate is not valid before {}", path,
                                   asn1_time_text(X509_get0_notBefore(certificate))));
  }
}

void add_extension(X509* certificate, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) fail(fmt::format("cannot make the certificate extension {}", value));
  const int added = X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
  if (added != 1) fail("cannot add a certificate extension");
}

// The names of a generated certificate: localhost and the loopback addresses, and --host when
// it names something more specific than every interface.
std::string subject_alt_names(std::string_view host) {
  std::string names = "DNS:localhost,IP:127.0.0.1,IP:::1";
  const std::string host_text(host);
  if (host_text.empty() || host_text == "localhost" || host_text == "127.0.0.1" ||
      host_text == "::1" || host_text == "0.0.0.0" || host_text == "::") {
    return names;
  }
  std::array<unsigned char, 16> address{};
  if (::inet_pton(AF_INET, host_text.c_str(), address.data()) == 1 ||
      ::inet_pton(AF_INET6, host_text.c_str(), address.data()) == 1) {
    return names + ",IP:" + host_text;
  }
  // A DNS name; anything that is not one (a comma would split the list) is left out.
  for (const char c : host_text) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '.' || c == '_')) return names;
  }
  return names + ",DNS:" + host_text;
}

struct Generated {
  X509Handle certificate;
  KeyHandle key;
};

Generated generate_self_signed(std::string_view host, std::chrono::hours validity) {
  Generated made;
  made.key.reset(EVP_EC_gen("P-256"));
  made.certificate.reset(X509_new());
  if (!made.key || !made.certificate) fail("--tls-self-signed: cannot generate a key");
  X509* certificate = made.certificate.get();
  // A random 127-bit serial: positive, and unique enough that clients caching by
  // issuer+serial never confuse two runs.
  std::array<unsigned char, 16> serial{};
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1) {
    fail("--tls-self-signed: no random bytes for the serial number");
  }
  serial[0] &= 0x7f;
  BignumHandle number(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  const long seconds = static_cast<long>(std::chrono::seconds(validity).count());
  const bool ok = number && X509_set_version(certificate, 2) == 1 &&
                  BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(certificate)) != nullptr &&
                  // An hour back, for clients whose clocks are behind.
                  X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) != nullptr &&
                  X509_gmtime_adj(X509_getm_notAfter(certificate), seconds) != nullptr &&
                  X509_set_pubkey(certificate, made.key.get()) == 1;
  if (!ok) fail("--tls-self-signed: cannot fill in the certificate");
  X509_NAME* name = X509_get_subject_name(certificate);
  const auto add_name = [&](const char* field, const char* value) {
    if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value), -1, -1, 0) != 1) {
      fail("--tls-self-signed: cannot name the certificate");
    }
  };
  add_name("O", "tcp_server self-signed");
  add_name("CN", "localhost");
  if (X509_set_issuer_name(certificate, name) != 1) fail("--tls-self-signed: no issuer name");
  // As `openssl req -x509` makes them: its own CA, so that a client can trust exactly this
  // certificate (--tls-cert-out) as a CA file.
  add_extension(certificate, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(certificate, NID_key_usage, "critical,digitalSignature,keyCertSign");
  add_extension(certificate, NID_ext_key_usage, "serverAuth");
  add_extension(certificate, NID_subject_key_identifier, "hash");
  add_extension(certificate, NID_subject_alt_name, subject_alt_names(host));
  if (X509_sign(certificate, made.key.get(), EVP_sha256()) <= 0) {
    fail("--tls-self-signed: cannot sign the certificate");
  }
  return made;
}

void write_certificate(const std::string& path, X509* certificate) {
  BioHandle bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), certificate) != 1) throw std::bad_alloc();
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) fail(fmt::format("--tls-cert-out {}: cannot write: {}", path, std::strerror(errno)));
  std::size_t done = 0;
  while (done < static_cast<std::size_t>(size)) {
    const ssize_t n = ::write(fd.get(), data + done, static_cast<std::size_t>(size) - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail(fmt::format("--tls-cert-out {}: cannot write: {}", path, std::strerror(errno)));
    }
    done += static_cast<std::size_t>(n);
  }
}

std::string sha256_fingerprint(X509* certificate) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (X509_digest(certificate, EVP_sha256(), digest.data(), &size) != 1) {
    fail("cannot compute the certificate's fingerprint");
  }
  return format_fingerprint(std::span<const std::uint8_t>(digest.data(), size));
}

// An echo server speaks whatever protocol the client does: it takes the client's first choice,
// so that a client that insists on ALPN gets an answer.
int select_first_protocol(SSL*, const unsigned char** out, unsigned char* out_size,
                          const unsigned char* in, unsigned int in_size, void*) {
  if (in_size == 0 || in[0] == 0 || in[0] + 1u > in_size) return SSL_TLSEXT_ERR_NOACK;
  *out = in + 1;
  *out_size = in[0];
  return SSL_TLSEXT_ERR_OK;
}

void load_client_ca(SSL_CTX* context, const TlsSettings& settings) {
  const std::string& path = settings.client_ca_path;
  const std::string pem = read_pem_file("--tls-client-ca", path);
  X509_STORE* store = SSL_CTX_get_cert_store(context);
  for (const X509Handle& ca : parse_certificates("--tls-client-ca", path, pem)) {
    // Also sent in the CertificateRequest, so that a client with several certificates picks
    // one this CA signed.
    if (X509_STORE_add_cert(store, ca.get()) != 1 ||
        SSL_CTX_add_client_CA(context, ca.get()) != 1) {
      fail(fmt::format("--tls-client-ca {}: cannot use a certificate in it", path));
    }
  }
  int mode = SSL_VERIFY_NONE;
  switch (settings.client_verification()) {
    case ClientVerification::kNone:
      break;
    case ClientVerification::kOptional:
      mode = SSL_VERIFY_PEER;
      break;
    case ClientVerification::kRequire:
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      break;
  }
  SSL_CTX_set_verify(context, mode, nullptr);
}

}  // namespace

void TlsContext::FreeContext::operator()(ssl_ctx_st* context) const noexcept {
  SSL_CTX_free(context);
}

TlsContext TlsContext::create(const TlsSettings& settings, std::string_view host,
                              std::vector<std::string>& warnings) {
  TlsContext made;
  made.context_.reset(SSL_CTX_new(TLS_server_method()));
  SSL_CTX* context = made.context_.get();
  if (context == nullptr) fail("cannot create a TLS context");
  made.handshake_timeout_ = settings.handshake_timeout;

  const int floor = settings.min_version == TlsVersion::k1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(context, floor);
  // IGNORE_UNEXPECTED_EOF: most clients (nc, ncat, scripts) close without close_notify; that is
  // their end of stream, not an error. No renegotiation: a client-triggered CPU sink.
  SSL_CTX_set_options(context, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                   SSL_OP_NO_RENEGOTIATION);
  // An idle connection keeps no record buffers (about 34 KiB each way otherwise).
  SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
  // Resumption by session tickets (stateless: the server keeps nothing per client). The id
  // context is required for resumption once client certificates are asked for.
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  static constexpr unsigned char kSessionContext[] = "tcp_server";
  SSL_CTX_set_session_id_context(context, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(context, select_first_protocol, nullptr);

  X509* leaf = nullptr;
  if (settings.self_signed) {
    Generated generated = generate_self_signed(host, settings.self_signed_validity);
    if (SSL_CTX_use_certificate(context, generated.certificate.get()) != 1 ||
        SSL_CTX_use_PrivateKey(context, generated.key.get()) != 1) {
      fail("--tls-self-signed: cannot use the generated certificate");
    }
    if (!settings.cert_out_path.empty()) {
      write_certificate(settings.cert_out_path, generated.certificate.get());
    }
  } else {
    const std::string cert_pem = read_pem_file("--tls-cert", settings.cert_path);
    const std::string key_pem = read_pem_file("--tls-key", settings.key_path);
    std::vector<X509Handle> chain = parse_certificates("--tls-cert", settings.cert_path, cert_pem);
    const KeyHandle key = parse_private_key(settings.key_path, key_pem);
    if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
      fail(fmt::format("--tls-key {}: does not match the certificate in --tls-cert {}",
                       settings.key_path, settings.cert_path));
    }
    warn_about_validity(settings.cert_path, chain.front().get(), warnings);
    if (SSL_CTX_use_certificate(context, chain.front().get()) != 1) {
      fail(fmt::format("--tls-cert {}: the certificate cannot be used: {}", settings.cert_path,
                       ERR_reason_error_string(ERR_peek_last_error())));
    }
    if (SSL_CTX_use_PrivateKey(context, key.get()) != 1) {
      fail(fmt::format("--tls-key {}: the key cannot be used: {}", settings.key_path,
                       ERR_reason_error_string(ERR_peek_last_error())));
    }
    for (std::size_t i = 1; i < chain.size(); ++i) {
      if (SSL_CTX_add1_chain_cert(context, chain[i].get()) != 1) {
        fail(fmt::format("--tls-cert {}: certificate {} of the chain cannot be used",
                         settings.cert_path, i + 1));
      }
    }
  }
  leaf = SSL_CTX_get0_certificate(context);
  made.fingerprint_ = sha256_fingerprint(leaf);
  if (!settings.client_ca_path.empty()) load_client_ca(context, settings);
  ERR_clear_error();
  return made;
}

}  // namespace tcp_server
