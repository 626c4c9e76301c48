#include <netdb.h>

#include <string>
#include <system_error>

#include "client_options.hpp"

namespace tcp_server::client {

Endpoint resolve_target(const Target& target) {
  if (auto literal = Endpoint::from_ip(target.host, target.port)) return *literal;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(target.port);
  const int status = ::getaddrinfo(target.host.c_str(), port.c_str(), &hints, &found);
  if (status != 0 || found == nullptr) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            "cannot resolve host '" + target.host + "': " + ::gai_strerror(status));
  }
  const Endpoint endpoint = Endpoint::from_sockaddr(found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  return endpoint;
}

}  // namespace tcp_server::client
