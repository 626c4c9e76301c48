#include "socket_activation.hpp"

#include <unistd.h>

#include <cstdlib>

#include "tcp_server/systemd.hpp"

namespace tcp_server {

InheritedSockets take_inherited_sockets() {
  InheritedSockets inherited;
  inherited.count =
      parse_listen_fds(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"), ::getpid());
  if (inherited.count == 0) return inherited;
  inherited.listener.reset(kListenFdsStart);
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  return inherited;
}

}  // namespace tcp_server
