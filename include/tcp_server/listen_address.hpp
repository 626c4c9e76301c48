#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tcp_server/endpoint.hpp"

namespace tcp_server {

// "ADDR:PORT" (as --metrics-listen takes it): a numeric IPv4 address or a bracketed IPv6 one
// ("[::1]:9100"), and a port from 0 (the system chooses) to 65535. nullopt, with the reason in
// *why, otherwise. Pure.
std::optional<Endpoint> parse_listen_address(std::string_view text, std::string* why = nullptr);

}  // namespace tcp_server
