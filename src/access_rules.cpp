#include "tcp_server/access_rules.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace tcp_server {
namespace {

// ::ffff:0:0/96, the IPv4-mapped IPv6 addresses (RFC 4291 2.5.5.2).
constexpr unsigned kMappedPrefix = 96;

bool is_v4_mapped(const std::array<std::uint8_t, 16>& bytes) {
  const auto zero = [](std::uint8_t byte) { return byte == 0; };
  return std::all_of(bytes.begin(), bytes.begin() + 10, zero) && bytes[10] == 0xff &&
         bytes[11] == 0xff;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* why_not) {
  const auto fail = [&](std::string why) -> std::optional<Cidr> {
    if (why_not != nullptr) *why_not = std::move(why);
    return std::nullopt;
  };
  const auto slash = text.find('/');
  const std::string address(text.substr(0, slash));
  Cidr cidr;
  unsigned max_prefix = 0;
  if (::inet_pton(AF_INET, address.c_str(), cidr.bytes_.data()) == 1) {
    cidr.family_ = AF_INET;
    max_prefix = 32;
  } else if (::inet_pton(AF_INET6, address.c_str(), cidr.bytes_.data()) == 1) {
    cidr.family_ = AF_INET6;
    max_prefix = 128;
  } else {
    return fail(fmt::format("'{}' is not an IPv4 or IPv6 address or network", text));
  }
  cidr.prefix_ = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    unsigned prefix = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
        prefix > max_prefix) {
      return fail(fmt::format("'{}' has a bad prefix length (0 to {})", text, max_prefix));
    }
    cidr.prefix_ = prefix;
  }
  const bool mapped = cidr.family_ == AF_INET6 && is_v4_mapped(cidr.bytes_);
  if (mapped && cidr.prefix_ < kMappedPrefix) {
    return fail(fmt::format(
        "'{}' is an IPv4-mapped network with a prefix under /96, so it would also cover IPv6 "
        "addresses that are not mapped IPv4; write it as an IPv4 network "
        "(::ffff:a.b.c.d/(96+N) is a.b.c.d/N)",
        text));
  }
  for (unsigned bit = cidr.prefix_; bit < max_prefix; ++bit) {
    if ((cidr.bytes_[bit / 8] >> (7 - bit % 8)) & 1U) {
      return fail(fmt::format("'{}' has bits set beyond its /{} prefix", text, cidr.prefix_));
    }
  }
  if (mapped) {
    // Clients are unmapped to IPv4 (see Endpoint), so the rule must be IPv4 to match them.
    Cidr v4;
    v4.family_ = AF_INET;
    std::copy_n(cidr.bytes_.begin() + 12, 4, v4.bytes_.begin());
    v4.prefix_ = cidr.prefix_ - kMappedPrefix;
    return v4;
  }
  return cidr;
}

bool Cidr::contains(const Endpoint& address) const noexcept {
  if (address.family() != family_) return false;
  const std::string_view bytes = address.address_bytes();
  const unsigned whole = prefix_ / 8;
  if (std::memcmp(bytes.data(), bytes_.data(), whole) != 0) return false;
  const unsigned rest = prefix_ % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFFU << (8 - rest));
  return (static_cast<std::uint8_t>(bytes[whole]) & mask) == (bytes_[whole] & mask);
}

std::string Cidr::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family_, bytes_.data(), text, sizeof text);
  return fmt::format("{}/{}", text, prefix_);
}

std::optional<std::string> AccessRules::refusal(const Endpoint& client) const {
  for (const Cidr& rule : deny) {
    if (rule.contains(client)) return fmt::format("denied by {}", rule.to_string());
  }
  if (allow.empty()) return std::nullopt;
  for (const Cidr& rule : allow) {
    if (rule.contains(client)) return std::nullopt;
  }
  return std::string("not in any --allow network");
}

CidrListError::CidrListError(std::size_t line, const std::string& reason)
    : std::invalid_argument(fmt::format("line {}: {}", line, reason)),
      line_(line),
      reason_(reason) {}

std::vector<Cidr> parse_cidr_list(std::string_view text) {
  std::vector<Cidr> networks;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (const auto comment = line.find('#'); comment != std::string_view::npos) {
      line = line.substr(0, comment);
    }
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    std::string why;
    auto cidr = Cidr::parse(line, &why);
    if (!cidr) throw CidrListError(line_number, why);
    networks.push_back(*cidr);
  }
  return networks;
}

}  // namespace tcp_server
