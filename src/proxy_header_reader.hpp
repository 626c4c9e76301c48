#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "tcp_server/byte_stream.hpp"
#include "tcp_server/endpoint.hpp"
#include "tcp_server/proxy_protocol.hpp"

namespace tcp_server {

struct ProxyHeaderRead {
  std::optional<std::string> refusal;  // why the client is refused; nothing else is set then
  std::optional<Endpoint> client;      // the client the header names (none for LOCAL)
  std::string first_bytes;             // received after the header: the start of a message
};

// Reads a PROXY protocol header from the raw stream (before any TLS: the proxy speaks first),
// giving up after timeout; on success the stream's receive timeout is back to receive_timeout.
ProxyHeaderRead read_proxy_header(ByteStream& raw, ProxyVersions versions,
                                  std::chrono::milliseconds timeout,
                                  std::chrono::milliseconds receive_timeout);

}  // namespace tcp_server
