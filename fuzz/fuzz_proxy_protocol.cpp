// Feeds arbitrary bytes to the PROXY protocol parser and checks what it promises: a header never
// claims more bytes than it was given, parsing just the header gives the same answer (it never
// looks past it), "need more" only happens below the size limits, and an invalid input has a
// reason.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tcp_server/proxy_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tcp_server;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (const ProxyVersions versions :
       {ProxyVersions::kV1, ProxyVersions::kV2, ProxyVersions::kAny}) {
    const ProxyParseResult result = parse_proxy_header(bytes, versions);
    switch (result.status) {
      case ProxyParseStatus::kHeader: {
        if (result.length == 0 || result.length > bytes.size()) std::abort();
        const ProxyParseResult again = parse_proxy_header(bytes.substr(0, result.length), versions);
        if (again.status != ProxyParseStatus::kHeader || again.length != result.length ||
            again.source != result.source) {
          std::abort();
        }
        break;
      }
      case ProxyParseStatus::kNeedMore:
        if (bytes.size() > 16 + kProxyV2MaxPayload) std::abort();
        break;
      case ProxyParseStatus::kInvalid:
        if (result.error.empty()) std::abort();
        break;
    }
  }
  return 0;
}
