#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "tcp_server/endpoint.hpp"

// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): a load balancer sends
// one header before the client's bytes, naming the client's real address. Pure and
// tri-state like the line framer: give it the bytes received so far; it says "need more",
// "here is the header and its length", or "invalid" with a reason. It never looks past the
// header, so the bytes after it are the client's first message.
namespace tcp_server {

enum class ProxyVersions { kNone, kV1, kV2, kAny };

enum class ProxyParseStatus { kNeedMore, kHeader, kInvalid };

struct ProxyParseResult {
  ProxyParseStatus status = ProxyParseStatus::kNeedMore;
  std::size_t length = 0;          // kHeader: bytes the header took
  std::optional<Endpoint> source;  // kHeader: the client; nullopt for LOCAL / UNKNOWN
  int version = 0;                 // kHeader: 1 or 2
  std::string error;               // kInvalid: what is wrong, for the log
};

// Largest v1 header (spec: 107 bytes, CRLF included).
inline constexpr std::size_t kProxyV1MaxLength = 107;
// Largest v2 header accepted: 16 fixed bytes plus this much address and TLV data. Proxies
// send far less (36 bytes for IPv6 plus a few TLVs); anything bigger is refused as hostile.
inline constexpr std::size_t kProxyV2MaxPayload = 1024;

ProxyParseResult parse_proxy_header(std::string_view bytes, ProxyVersions accepted);

}  // namespace tcp_server
