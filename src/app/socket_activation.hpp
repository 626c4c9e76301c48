#pragma once

#include "tcp_server/unique_fd.hpp"

namespace tcp_server {

// The listening sockets systemd handed this process (sd_listen_fds(3)).
struct InheritedSockets {
  UniqueFd listener;  // the first one (fd 3); invalid when there are none
  int count = 0;      // how many were passed (only the first is served)
};

// Reads LISTEN_PID/LISTEN_FDS and, when they are meant for this process, takes ownership of
// the first socket and unsets the variables (not for our children, as sd_listen_fds(3) does
// with unset_environment). Throws std::invalid_argument when they are malformed.
InheritedSockets take_inherited_sockets();

}  // namespace tcp_server
