#include "tcp_server/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <vector>

namespace tcp_server {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
// Received bytes quoted in an error text: enough to recognise, few enough to keep it short.
constexpr std::size_t kQuotedBytesMax = 8;

// Peer bytes for an error text: printable ASCII as is, anything else as '?'. Safe wherever the
// text is shown, and unchanged when the log escapes it again (no backslash to double).
std::string quote_received(std::string_view bytes) {
  std::string quoted;
  for (const char byte : bytes.substr(0, kQuotedBytesMax)) {
    quoted += (byte >= 0x20 && byte < 0x7f && byte != '\\') ? byte : '?';
  }
  return quoted;
}

ProxyParseResult invalid(std::string error) {
  ProxyParseResult result;
  result.status = ProxyParseStatus::kInvalid;
  result.error = std::move(error);
  return result;
}

std::vector<std::string_view> split_spaces(std::string_view text) {
  std::vector<std::string_view> fields;
  while (!text.empty()) {
    const auto space = text.find(' ');
    fields.push_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return fields;
}

// A v1 port: 0..65535, decimal, no sign, no leading zero (the spec's grammar).
std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

ProxyParseResult parse_v1(std::string_view bytes) {
  const auto end = bytes.find("\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() >= kProxyV1MaxLength) return invalid("v1 header longer than 107 bytes");
    if (bytes.find('\n') != std::string_view::npos) return invalid("v1 header ends without CRLF");
    return {};
  }
  if (end + 2 > kProxyV1MaxLength) return invalid("v1 header longer than 107 bytes");
  const std::string_view line = bytes.substr(kV1Prefix.size(), end - kV1Prefix.size());
  const auto fields = split_spaces(line);
  ProxyParseResult result;
  result.status = ProxyParseStatus::kHeader;
  result.length = end + 2;
  result.version = 1;
  if (!fields.empty() && fields[0] == "UNKNOWN") return result;  // the rest is to be ignored
  if (fields.size() != 5) return invalid("v1 header needs 5 fields after PROXY");
  int family = 0;
  if (fields[0] == "TCP4") {
    family = AF_INET;
  } else if (fields[0] == "TCP6") {
    family = AF_INET6;
  } else {
    return invalid(
        fmt::format("v1 protocol '{}' is not TCP4, TCP6 or UNKNOWN", quote_received(fields[0])));
  }
  const auto source_port = parse_port(fields[3]);
  const auto destination_port = parse_port(fields[4]);
  if (!source_port || !destination_port) return invalid("v1 header has a bad port");
  // Endpoint::from_ip accepts either family; the header must use the one it names.
  const auto source = Endpoint::from_ip(fields[1], *source_port);
  const auto destination = Endpoint::from_ip(fields[2], *destination_port);
  if (!source || !destination || fields[1].find('[') != std::string_view::npos) {
    return invalid("v1 header has a bad address");
  }
  const bool source_matches = family == AF_INET ? fields[1].find(':') == std::string_view::npos
                                                : fields[1].find(':') != std::string_view::npos;
  const bool destination_matches = family == AF_INET
                                       ? fields[2].find(':') == std::string_view::npos
                                       : fields[2].find(':') != std::string_view::npos;
  if (!source_matches || !destination_matches) {
    return invalid("v1 header's addresses do not match its protocol");
  }
  result.source = *source;
  return result;
}

std::uint16_t read_u16(const unsigned char* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

ProxyParseResult parse_v2(std::string_view bytes) {
  if (bytes.size() < 16) return {};
  const auto* header = reinterpret_cast<const unsigned char*>(bytes.data());
  const unsigned version = header[12] >> 4;
  const unsigned command = header[12] & 0x0F;
  if (version != 2) return invalid(fmt::format("v2 header with version {}", version));
  if (command > 1) return invalid(fmt::format("v2 header with unknown command {}", command));
  const std::size_t payload = read_u16(header + 14);
  if (payload > kProxyV2MaxPayload) {
    return invalid(fmt::format("v2 header of {} bytes is over the {}-byte limit", payload + 16,
                               kProxyV2MaxPayload + 16));
  }
  if (bytes.size() < 16 + payload) return {};
  ProxyParseResult result;
  result.status = ProxyParseStatus::kHeader;
  result.length = 16 + payload;
  result.version = 2;
  if (command == 0) return result;  // LOCAL: the proxy's own connection (health checks)
  const unsigned family = header[13] >> 4;
  const unsigned transport = header[13] & 0x0F;
  const unsigned char* address = header + 16;
  if (family == 0) return result;  // UNSPEC: addresses unknown
  if (transport != 1) {
    // Only TCP (STREAM) is served here; UDP or unspecified transports make no sense for TCP.
    if (transport == 0) return result;
    return invalid(fmt::format("v2 header with transport {}, not TCP", transport));
  }
  if (family == 1) {
    if (payload < 12) return invalid("v2 TCP4 header shorter than its addresses");
    sockaddr_in source{};
    source.sin_family = AF_INET;
    std::memcpy(&source.sin_addr, address, 4);
    source.sin_port = htons(read_u16(address + 8));
    result.source =
        Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&source), sizeof source);
    return result;
  }
  if (family == 2) {
    if (payload < 36) return invalid("v2 TCP6 header shorter than its addresses");
    sockaddr_in6 source{};
    source.sin6_family = AF_INET6;
    std::memcpy(&source.sin6_addr, address, 16);
    source.sin6_port = htons(read_u16(address + 32));
    result.source =
        Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&source), sizeof source);
    return result;
  }
  if (family == 3) return result;  // AF_UNIX: no IP address to use; the socket's is kept
  return invalid(fmt::format("v2 header with unknown address family {}", family));
}

}  // namespace

ProxyParseResult parse_proxy_header(std::string_view bytes, ProxyVersions accepted) {
  const bool v1 = accepted == ProxyVersions::kV1 || accepted == ProxyVersions::kAny;
  const bool v2 = accepted == ProxyVersions::kV2 || accepted == ProxyVersions::kAny;
  if (bytes.empty()) return {};
  // Decide the version from as many bytes as there are: a prefix of either signature waits.
  const std::size_t v1_seen = std::min(bytes.size(), kV1Prefix.size());
  const std::size_t v2_seen = std::min(bytes.size(), kV2Signature.size());
  const bool could_be_v1 = bytes.substr(0, v1_seen) == kV1Prefix.substr(0, v1_seen);
  const bool could_be_v2 = bytes.substr(0, v2_seen) == kV2Signature.substr(0, v2_seen);
  if (v1 && could_be_v1) return v1_seen < kV1Prefix.size() ? ProxyParseResult{} : parse_v1(bytes);
  if (v2 && could_be_v2) {
    return v2_seen < kV2Signature.size() ? ProxyParseResult{} : parse_v2(bytes);
  }
  if (could_be_v1 || could_be_v2) {
    return invalid(fmt::format("PROXY protocol v{} header, but only v{} is accepted",
                               could_be_v1 ? 1 : 2, could_be_v1 ? 2 : 1));
  }
  return invalid("no PROXY protocol header");
}

}  // namespace tcp_server
