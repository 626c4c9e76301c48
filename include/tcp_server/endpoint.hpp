#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tcp_server {

// An IPv4 or IPv6 socket address. IPv4-mapped IPv6 addresses (::ffff:1.2.3.4), which a
// dual-stack socket reports for IPv4 peers, are stored as plain IPv4 so that logs, limits and
// access rules see one form of each address.
class Endpoint {
 public:
  Endpoint() = default;

  // Copies a kernel-provided address; unmaps IPv4-mapped IPv6. Unknown families give an
  // Endpoint whose family() is AF_UNSPEC.
  static Endpoint from_sockaddr(const sockaddr* address, socklen_t length);

  // Numeric IP literal ("127.0.0.1", "::1", "[::1]") plus port; no name resolution.
  static std::optional<Endpoint> from_ip(std::string_view ip, std::uint16_t port);

  [[nodiscard]] int family() const noexcept { return storage_.ss_family; }
  [[nodiscard]] bool is_v4() const noexcept { return family() == AF_INET; }
  [[nodiscard]] bool is_v6() const noexcept { return family() == AF_INET6; }
  [[nodiscard]] std::uint16_t port() const noexcept;
  void set_port(std::uint16_t port) noexcept;

  [[nodiscard]] const sockaddr* sockaddr_ptr() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage_);
  }
  [[nodiscard]] socklen_t sockaddr_length() const noexcept;

  // "1.2.3.4" or "::1".
  [[nodiscard]] std::string ip_string() const;
  // "1.2.3.4:5678" or "[::1]:5678"; "unknown" for AF_UNSPEC.
  [[nodiscard]] std::string to_string() const;

  // Raw address bytes in network order: 4 for IPv4, 16 for IPv6, empty otherwise.
  [[nodiscard]] std::string_view address_bytes() const noexcept;

  friend bool operator==(const Endpoint& a, const Endpoint& b) noexcept;

 private:
  sockaddr_storage storage_{};
};

}  // namespace tcp_server
