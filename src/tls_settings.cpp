#include "tcp_server/tls_settings.hpp"

#include <algorithm>
#include <array>

namespace tcp_server {

std::vector<std::string> TlsSettings::validate() const {
  std::vector<std::string> problems;
  if (self_signed && (!cert_path.empty() || !key_path.empty())) {
    problems.emplace_back("--tls-self-signed and --tls-cert/--tls-key exclude each other");
  }
  if (!self_signed && cert_path.empty() != key_path.empty()) {
    problems.emplace_back(cert_path.empty() ? "--tls-key needs --tls-cert"
                                            : "--tls-cert needs --tls-key");
  }
  if (!cert_out_path.empty() && !self_signed) {
    problems.emplace_back("--tls-cert-out is only used with --tls-self-signed");
  }
  const bool any_tls = self_signed || !cert_path.empty() || !key_path.empty();
  if (!client_ca_path.empty() && !any_tls) {
    problems.emplace_back("--tls-client-ca needs --tls-cert and --tls-key, or --tls-self-signed");
  }
  if (verify_client && *verify_client != ClientVerification::kNone && client_ca_path.empty()) {
    problems.emplace_back("--tls-verify-client needs --tls-client-ca");
  }
  if (handshake_timeout.count() <= 0) {
    problems.emplace_back("--tls-handshake-timeout must be more than 0");
  }
  if (self_signed_validity.count() <= 0) {
    problems.emplace_back("the self-signed certificate's validity must be more than 0");
  }
  return problems;
}

std::optional<TlsVersion> parse_tls_version(std::string_view text, std::string* why) {
  if (text == "1.2") return TlsVersion::k1_2;
  if (text == "1.3") return TlsVersion::k1_3;
  if (why != nullptr) {
    if (text == "1.0" || text == "1.1" || text == "1" || text == "ssl3") {
      *why = "TLS " + std::string(text) + " is obsolete (RFC 8996) and refused; use 1.2 or 1.3";
    } else {
      *why = "expected 1.2 or 1.3";
    }
  }
  return std::nullopt;
}

std::string_view to_string(TlsVersion version) noexcept {
  return version == TlsVersion::k1_3 ? "1.3" : "1.2";
}

std::string format_fingerprint(std::span<const std::uint8_t> digest) {
  static constexpr std::array<char, 16> kHex{'0', '1', '2', '3', '4', '5', '6', '7',
                                             '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
  std::string text;
  text.reserve(digest.size() * 3);
  for (const std::uint8_t byte : digest) {
    if (!text.empty()) text += ':';
    text += kHex[byte >> 4];
    text += kHex[byte & 0x0f];
  }
  return text;
}

std::string describe_non_tls(std::string_view first_bytes) {
  if (first_bytes.empty()) return {};
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(first_bytes[i]); };
  // A TLS record: content type 22 (handshake), then the major version 3 (RFC 8446, 5.1).
  if (byte(0) == 0x16 && (first_bytes.size() < 2 || byte(1) == 0x03)) return {};
  static constexpr std::array<std::string_view, 10> kHttpMethods{
      "GET ",     "POST ",    "HEAD ",  "PUT ",   "DELETE ",
      "OPTIONS ", "CONNECT ", "PATCH ", "TRACE ", "PRI * HTTP/2"};
  for (const std::string_view method : kHttpMethods) {
    const std::size_t n = std::min(method.size(), first_bytes.size());
    // A prefix long enough to tell ("GE" could be anything).
    if (n >= 3 && first_bytes.substr(0, n) == method.substr(0, n)) {
      return "plaintext HTTP request?";
    }
  }
  // SSL 2.0's ClientHello has a two-byte length with the top bit set, then type 1.
  if ((byte(0) & 0x80) != 0 && first_bytes.size() >= 3 && byte(2) == 0x01) {
    return "SSL 2.0 ClientHello: not supported";
  }
  const bool text = std::all_of(first_bytes.begin(), first_bytes.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 || c == '\n' || c == '\r' || c == '\t';
  });
  return text ? "plaintext?" : "not a TLS handshake";
}

}  // namespace tcp_server
