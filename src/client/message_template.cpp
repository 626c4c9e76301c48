#include "message_template.hpp"

namespace tcp_server::client {

std::string expand_message(std::string_view pattern, std::size_t id, std::size_t n) {
  std::string out;
  out.reserve(pattern.size() + 8);
  for (std::size_t i = 0; i < pattern.size();) {
    const std::string_view rest = pattern.substr(i);
    if (rest.starts_with("{id}")) {
      out += std::to_string(id);
      i += 4;
    } else if (rest.starts_with("{n}")) {
      out += std::to_string(n);
      i += 3;
    } else if (rest.starts_with("{{") || rest.starts_with("}}")) {
      out += rest[0];
      i += 2;
    } else {
      out += rest[0];
      ++i;
    }
  }
  return out;
}

}  // namespace tcp_server::client
