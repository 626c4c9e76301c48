#include "tcp_server/systemd.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace tcp_server {
namespace {

long parse_positive(const char* text, const char* name) {
  long value = 0;
  const char* end = text + std::strlen(text);
  const auto [stop, error] = std::from_chars(text, end, value);
  if (error != std::errc() || stop != end || value < 0) {
    throw std::invalid_argument(std::string(name) + "='" + text + "' is not a number");
  }
  return value;
}

}  // namespace

int parse_listen_fds(const char* listen_pid, const char* listen_fds, pid_t self) {
  if (listen_pid == nullptr || listen_fds == nullptr) return 0;
  if (parse_positive(listen_pid, "LISTEN_PID") != static_cast<long>(self)) return 0;
  const long count = parse_positive(listen_fds, "LISTEN_FDS");
  if (count > 1024) throw std::invalid_argument("LISTEN_FDS is implausibly large");
  return static_cast<int>(count);
}

SystemdNotifier::SystemdNotifier(std::string socket_address) : address_(std::move(socket_address)) {
  if (address_.empty()) return;
  fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd_) address_.clear();
}

SystemdNotifier SystemdNotifier::from_environment() {
  const char* address = std::getenv("NOTIFY_SOCKET");
  return SystemdNotifier(address == nullptr ? std::string() : std::string(address));
}

bool SystemdNotifier::notify(std::string_view state) const {
  if (!enabled()) return false;
  sockaddr_un target{};
  target.sun_family = AF_UNIX;
  if (address_.size() >= sizeof target.sun_path) return false;
  std::memcpy(target.sun_path, address_.data(), address_.size());
  // '@' stands for the abstract namespace, whose names start with a NUL byte and are not
  // NUL-terminated: the address length must count exactly the name.
  if (target.sun_path[0] == '@') target.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  return ::sendto(fd_.get(), state.data(), state.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&target),
                  length) == static_cast<ssize_t>(state.size());
}

}  // namespace tcp_server
