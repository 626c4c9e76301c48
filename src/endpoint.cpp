#include "tcp_server/endpoint.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace tcp_server {
namespace {

bool is_v4_mapped(const in6_addr& address) {
  static constexpr unsigned char kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(address.s6_addr, kPrefix, sizeof kPrefix) == 0;
}

}  // namespace

Endpoint Endpoint::from_sockaddr(const sockaddr* address, socklen_t length) {
  Endpoint result;
  if (address == nullptr) return result;
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&result.storage_, address, sizeof(sockaddr_in));
    return result;
  }
  if (address->sa_family != AF_INET6 || length < static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    return result;
  }
  sockaddr_in6 v6{};
  std::memcpy(&v6, address, sizeof v6);
  if (!is_v4_mapped(v6.sin6_addr)) {
    std::memcpy(&result.storage_, &v6, sizeof v6);
    return result;
  }
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = v6.sin6_port;
  std::memcpy(&v4.sin_addr, v6.sin6_addr.s6_addr + 12, 4);
  std::memcpy(&result.storage_, &v4, sizeof v4);
  return result;
}

std::optional<Endpoint> Endpoint::from_ip(std::string_view ip, std::uint16_t port) {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string text(ip);
  sockaddr_in v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    return from_sockaddr(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
  }
  sockaddr_in6 v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    return from_sockaddr(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
  }
  return std::nullopt;
}

std::uint16_t Endpoint::port() const noexcept {
  if (is_v4()) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (is_v6()) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

void Endpoint::set_port(std::uint16_t port) noexcept {
  if (is_v4()) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  if (is_v6()) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

socklen_t Endpoint::sockaddr_length() const noexcept {
  if (is_v4()) return sizeof(sockaddr_in);
  if (is_v6()) return sizeof(sockaddr_in6);
  return 0;
}

std::string_view Endpoint::address_bytes() const noexcept {
  if (is_v4()) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage_);
    return {reinterpret_cast<const char*>(&v4->sin_addr), 4};
  }
  if (is_v6()) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    return {reinterpret_cast<const char*>(v6->sin6_addr.s6_addr), 16};
  }
  return {};
}

std::string Endpoint::ip_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  const std::string_view bytes = address_bytes();
  if (bytes.empty() || ::inet_ntop(family(), bytes.data(), text, sizeof text) == nullptr) {
    return "unknown";
  }
  return text;
}

std::string Endpoint::to_string() const {
  if (is_v4()) return ip_string() + ':' + std::to_string(port());
  if (is_v6()) return '[' + ip_string() + "]:" + std::to_string(port());
  return "unknown";
}

bool operator==(const Endpoint& a, const Endpoint& b) noexcept {
  return a.family() == b.family() && a.port() == b.port() && a.address_bytes() == b.address_bytes();
}

}  // namespace tcp_server
