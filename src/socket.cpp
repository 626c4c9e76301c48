#include "tcp_server/socket.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

namespace tcp_server {
namespace {

std::error_code set_int_option(int fd, int level, int name, int value) {
  if (::setsockopt(fd, level, name, &value, sizeof value) == 0) return {};
  return errno_code(errno);
}

std::error_code set_timeval_option(int fd, int name, std::chrono::milliseconds timeout) {
  const auto ms = timeout.count() < 0 ? 0 : timeout.count();
  timeval value{};
  value.tv_sec = static_cast<time_t>(ms / 1000);
  value.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  if (::setsockopt(fd, SOL_SOCKET, name, &value, sizeof value) == 0) return {};
  return errno_code(errno);
}

}  // namespace

ReceiveResult receive_some(int fd, std::span<char> buffer) {
  const ssize_t n = retry_on_eintr([&] { return ::recv(fd, buffer.data(), buffer.size(), 0); });
  if (n < 0) return {0, errno_code(errno)};
  return {static_cast<std::size_t>(n), {}};
}

std::error_code send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n =
        retry_on_eintr([&] { return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL); });
    if (n < 0) return errno_code(errno);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

bool is_peer_gone(std::error_code error) noexcept {
  return error == std::errc::connection_reset || error == std::errc::broken_pipe ||
         error == std::errc::connection_aborted || error == std::errc::not_connected;
}

bool is_timeout(std::error_code error) noexcept {
  return error == std::errc::resource_unavailable_try_again ||
         error == std::errc::operation_would_block;
}

std::error_code set_no_delay(int fd, bool enabled) {
  return set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, enabled ? 1 : 0);
}

std::error_code set_receive_timeout(int fd, std::chrono::milliseconds timeout) {
  return set_timeval_option(fd, SO_RCVTIMEO, timeout);
}

std::error_code set_send_timeout(int fd, std::chrono::milliseconds timeout) {
  return set_timeval_option(fd, SO_SNDTIMEO, timeout);
}

std::error_code set_keepalive(int fd, const KeepaliveSettings& settings) {
  if (auto error = set_int_option(fd, SOL_SOCKET, SO_KEEPALIVE, settings.enabled ? 1 : 0)) {
    return error;
  }
  if (!settings.enabled) return {};
  if (auto error =
          set_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(settings.idle.count()))) {
    return error;
  }
  if (auto error = set_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL,
                                  static_cast<int>(settings.interval.count()))) {
    return error;
  }
  return set_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT, settings.probes);
}

Endpoint local_endpoint(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {};
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&address), length);
}

Endpoint peer_endpoint(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {};
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&address), length);
}

UniqueFd connect_to(const Endpoint& endpoint, std::chrono::milliseconds timeout,
                    std::error_code& error) {
  error.clear();
  UniqueFd fd(::socket(endpoint.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    error = errno_code(errno);
    return {};
  }
  if (::connect(fd.get(), endpoint.sockaddr_ptr(), endpoint.sockaddr_length()) != 0) {
    if (errno != EINPROGRESS) {
      error = errno_code(errno);
      return {};
    }
    pollfd waiting{fd.get(), POLLOUT, 0};
    const int ready =
        retry_on_eintr([&] { return ::poll(&waiting, 1, static_cast<int>(timeout.count())); });
    if (ready <= 0) {
      error = ready == 0 ? std::make_error_code(std::errc::timed_out) : errno_code(errno);
      return {};
    }
    int so_error = 0;
    socklen_t length = sizeof so_error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &length);
    if (so_error != 0) {
      error = errno_code(so_error);
      return {};
    }
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

}  // namespace tcp_server
