#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

#include "tcp_server/socket.hpp"
#include "tcp_server/unique_fd.hpp"

namespace tcp_server::testing {

// For programs that cannot be given port 0 (systemd-socket-activate, haproxy, nginx): a port
// the kernel picked for us, released again. Another process could take it in between; callers
// retry when the program reports the address in use.
inline std::uint16_t kernel_chosen_free_port() {
  UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return 0;
  return local_endpoint(probe.get()).port();
}

}  // namespace tcp_server::testing
