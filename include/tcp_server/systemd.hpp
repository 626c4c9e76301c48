#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "tcp_server/unique_fd.hpp"

// systemd integration through its documented protocols (sd_listen_fds(3), sd_notify(3)) rather
// than libsystemd: both are a few lines, and the binary then runs the same with or without
// systemd, with no extra runtime dependency.
namespace tcp_server {

// sd_listen_fds(3): inherited sockets start at fd 3.
inline constexpr int kListenFdsStart = 3;

// How many sockets the service manager passed to this process: 0 when LISTEN_PID/LISTEN_FDS are
// unset or meant for another process (LISTEN_PID != self). Pure; throws std::invalid_argument
// when the variables are set but malformed.
int parse_listen_fds(const char* listen_pid, const char* listen_fds, pid_t self);

// Sends sd_notify(3) state datagrams ("READY=1", "STATUS=...", "STOPPING=1") to the socket
// named by $NOTIFY_SOCKET: a path, or an abstract-namespace name written with a leading '@'.
// Disabled (every call a no-op) when there is no such socket. Thread safe.
class SystemdNotifier {
 public:
  SystemdNotifier() = default;
  explicit SystemdNotifier(std::string socket_address);
  // Reads $NOTIFY_SOCKET.
  static SystemdNotifier from_environment();

  [[nodiscard]] bool enabled() const noexcept { return !address_.empty(); }
  // One datagram of newline-separated assignments; false if it could not be sent.
  bool notify(std::string_view state) const;

 private:
  std::string address_;
  UniqueFd fd_;
};

}  // namespace tcp_server
