#include "proxy_header_reader.hpp"

#include <algorithm>
#include <array>

namespace tcp_server {
namespace {

ProxyHeaderRead refused(std::string why) {
  ProxyHeaderRead read;
  read.refusal = std::move(why);
  return read;
}

}  // namespace

ProxyHeaderRead read_proxy_header(ByteStream& raw, ProxyVersions versions,
                                  std::chrono::milliseconds timeout,
                                  std::chrono::milliseconds receive_timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<char, 256> chunk;
  std::string received;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return refused("no complete PROXY header in time");
    raw.set_receive_timeout(std::max(left, std::chrono::milliseconds(1)));
    const ReceiveResult got = raw.receive_some(chunk);
    if (got.error) {
      return refused(is_timeout(got.error) ? std::string("no complete PROXY header in time")
                                           : "recv: " + got.error.message());
    }
    if (got.bytes == 0) return refused("closed before the end of its PROXY header");
    received.append(chunk.data(), got.bytes);
    const ProxyParseResult parsed = parse_proxy_header(received, versions);
    if (parsed.status == ProxyParseStatus::kNeedMore) continue;
    if (parsed.status == ProxyParseStatus::kInvalid) return refused(parsed.error);
    raw.set_receive_timeout(receive_timeout);
    ProxyHeaderRead read;
    read.client = parsed.source;
    read.first_bytes = received.substr(parsed.length);
    return read;
  }
}

}  // namespace tcp_server
