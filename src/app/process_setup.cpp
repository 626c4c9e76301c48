#include "process_setup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace tcp_server {

bool occupy_closed_standard_fds() {
  bool stdout_closed = false;
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    if (fd == STDOUT_FILENO) stdout_closed = true;
    // The lowest free number, which is fd itself: the ones below it are open by now.
    if (::open("/dev/null", O_RDWR) != fd) std::_Exit(1);
  }
  return stdout_closed;
}

void block_reload_and_stats_signals() {
  sigset_t signals;
  ::sigemptyset(&signals);
  ::sigaddset(&signals, SIGHUP);
  ::sigaddset(&signals, SIGUSR1);
  // Cannot fail with a valid how and set (sigprocmask(2)).
  ::sigprocmask(SIG_BLOCK, &signals, nullptr);
}

}  // namespace tcp_server
