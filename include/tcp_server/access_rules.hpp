#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tcp_server/endpoint.hpp"

namespace tcp_server {

// An IPv4 or IPv6 network: "10.0.0.0/8", "2001:db8::/32", or one address ("192.0.2.7", "::1",
// meaning /32 or /128). Bits beyond the prefix must be zero ("10.1.0.0/8" is refused as a
// likely typo). An IPv4 network never matches an IPv6 address and vice versa; IPv4 clients of
// a dual-stack socket arrive unmapped (see Endpoint), so "127.0.0.0/8" matches them, and so
// does "::ffff:127.0.0.0/104", which is parsed as the IPv4 network it means (a mapped network
// shorter than /96 would reach past the mapped range and is refused).
class Cidr {
 public:
  // nullopt for anything else; why_not (when given) says what is wrong.
  static std::optional<Cidr> parse(std::string_view text, std::string* why_not = nullptr);

  [[nodiscard]] bool contains(const Endpoint& address) const noexcept;
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const Cidr&, const Cidr&) = default;

 private:
  int family_ = 0;
  std::array<std::uint8_t, 16> bytes_{};
  unsigned prefix_ = 0;
};

// --allow / --deny: a client is refused when it matches a deny rule, or when allow rules exist
// and it matches none. No rules: everyone is served.
struct AccessRules {
  std::vector<Cidr> allow;
  std::vector<Cidr> deny;

  [[nodiscard]] bool empty() const noexcept { return allow.empty() && deny.empty(); }
  // nullopt when permitted; otherwise the reason ("denied by 10.0.0.0/8", "not in --allow").
  [[nodiscard]] std::optional<std::string> refusal(const Endpoint& client) const;
};

// A bad entry in a list of networks: what() is "line 3: <why>"; line() and reason() let a
// caller name the file as "deny.txt:3: <why>".
class CidrListError : public std::invalid_argument {
 public:
  CidrListError(std::size_t line, const std::string& reason);
  [[nodiscard]] std::size_t line() const noexcept { return line_; }
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  std::size_t line_;
  std::string reason_;
};

// Networks from a file's text, one per line; '#' starts a comment; blank lines are skipped.
// Throws CidrListError naming the line number of a bad entry.
std::vector<Cidr> parse_cidr_list(std::string_view text);

}  // namespace tcp_server
