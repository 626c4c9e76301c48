#include "admission.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "server_log.hpp"

namespace tcp_server {

std::optional<Refusal> Admission::over_limit(std::size_t open, std::size_t max_connections) {
  if (open < max_connections) return std::nullopt;
  return Refusal{RejectReason::kConnectionLimit,
                 fmt::format("{} connections open", max_connections)};
}

std::optional<Refusal> Admission::untrusted_proxy(const Endpoint& peer) const {
  const bool trusted = std::any_of(config_.trusted_proxies.begin(), config_.trusted_proxies.end(),
                                   [&](const Cidr& proxy) { return proxy.contains(peer); });
  if (trusted) return std::nullopt;
  return Refusal{RejectReason::kProxyHeader, "not from a --trusted-proxy"};
}

std::optional<Refusal> Admission::denied(const Endpoint& client) const {
  auto refusal = access_.current()->refusal(client);
  if (!refusal) return std::nullopt;
  return Refusal{RejectReason::kDenied, std::move(*refusal)};
}

Refusal Admission::per_ip_refusal() const {
  return {RejectReason::kPerIpLimit,
          fmt::format("{} connections from this address", config_.max_per_ip)};
}

void Admission::refuse(ByteStream& stream, Registration registration, std::string_view client,
                       RejectReason reason, std::string_view detail) const noexcept {
  if (!config_.reject_message.empty()) stream.send_without_waiting(config_.reject_message);
  stats_.on_rejected(reason);
  try {
    log_.rejected(client, reason, detail);
  } catch (...) {
    // Out of memory for the line: the client is refused all the same (and counted).
  }
  registration.reset();
  stream.close();
}

}  // namespace tcp_server
