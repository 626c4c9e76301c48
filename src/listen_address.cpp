#include "tcp_server/listen_address.hpp"

#include <charconv>
#include <system_error>

namespace tcp_server {

std::optional<Endpoint> parse_listen_address(std::string_view text, std::string* why) {
  const auto fail = [why](std::string reason) -> std::optional<Endpoint> {
    if (why != nullptr) *why = std::move(reason);
    return std::nullopt;
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail("expected ADDR:PORT, e.g. 127.0.0.1:9100");
  std::string_view address = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (address.find(':') != std::string_view::npos &&
      !(address.starts_with('[') && address.ends_with(']'))) {
    return fail("an IPv6 address goes in brackets, e.g. [::1]:9100");
  }
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return fail("port must be a number from 0 to 65535");
  }
  auto endpoint = Endpoint::from_ip(address, static_cast<std::uint16_t>(port));
  if (!endpoint) return fail("'" + std::string(address) + "' is not a numeric IP address");
  return endpoint;
}

}  // namespace tcp_server
