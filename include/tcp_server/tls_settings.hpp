#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// TLS as plain data (what --tls-* ask for) and the pure pieces around it: no OpenSSL here, so
// that config.hpp and the tests of these pieces do not need it.
namespace tcp_server {

enum class TlsVersion {
  k1_2,
  k1_3,
};

enum class ClientVerification {
  kNone,      // no client certificate asked for
  kOptional,  // asked for; a client without one is served, one with an untrusted one refused
  kRequire,   // a client without a certificate the CA signed is refused
};

struct TlsSettings {
  std::string cert_path{};       // PEM: the server's certificate, then any chain
  std::string key_path{};        // PEM: its private key (RSA, ECDSA or Ed25519), not encrypted
  bool self_signed = false;      // generate a key and certificate in memory at start
  std::string cert_out_path{};   // with self_signed: where to write the certificate (not the key)
  std::string client_ca_path{};  // PEM: the CA(s) client certificates must be signed by
  // Default: kRequire when client_ca_path is given, else kNone.
  std::optional<ClientVerification> verify_client{};
  TlsVersion min_version = TlsVersion::k1_2;
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  // How long the generated certificate is valid.
  std::chrono::hours self_signed_validity{24 * 30};

  [[nodiscard]] bool enabled() const noexcept { return self_signed || !cert_path.empty(); }
  [[nodiscard]] ClientVerification client_verification() const noexcept {
    if (verify_client) return *verify_client;
    return client_ca_path.empty() ? ClientVerification::kNone : ClientVerification::kRequire;
  }
  // Problems with the combination, one sentence each naming the option; empty when usable.
  [[nodiscard]] std::vector<std::string> validate() const;
};

// "1.2" or "1.3"; for anything else, why in words (1.0 and 1.1 are refused by name).
std::optional<TlsVersion> parse_tls_version(std::string_view text, std::string* why = nullptr);
std::string_view to_string(TlsVersion version) noexcept;

// A SHA-256 digest as clients show it: upper-case hex pairs joined by ':' ("AB:01:...").
std::string format_fingerprint(std::span<const std::uint8_t> digest);

// What the first bytes a client sent say, when they are not the start of a TLS handshake (a TLS
// record begins 0x16 0x03): "plaintext HTTP request?", "plaintext?", "not a TLS handshake".
// Empty when they could be one (or nothing was received). The words go in
// "rejected: tls (<words>)".
std::string describe_non_tls(std::string_view first_bytes);

}  // namespace tcp_server
