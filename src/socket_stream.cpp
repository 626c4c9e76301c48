#include "socket_stream.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

namespace tcp_server {

void SocketStream::configure(const StreamOptions& options) noexcept {
  (void)set_no_delay(fd_.get(), options.no_delay);
  if (options.keepalive.enabled) (void)set_keepalive(fd_.get(), options.keepalive);
  if (options.receive_timeout.count() > 0) set_receive_timeout(options.receive_timeout);
  if (options.send_timeout.count() > 0) (void)set_send_timeout(fd_.get(), options.send_timeout);
}

void SocketStream::set_receive_timeout(std::chrono::milliseconds timeout) noexcept {
  (void)tcp_server::set_receive_timeout(fd_.get(), timeout);
}

ReceiveResult SocketStream::receive_some(std::span<char> buffer) {
  return tcp_server::receive_some(fd_.get(), buffer);
}

ReceiveResult SocketStream::receive_queued(std::span<char> buffer) {
  const ssize_t n =
      retry_on_eintr([&] { return ::recv(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT); });
  if (n < 0) return {0, errno_code(errno)};
  return {static_cast<std::size_t>(n), {}};
}

bool SocketStream::wait_readable(std::chrono::milliseconds timeout) {
  pollfd readable{fd_.get(), POLLIN, 0};
  return retry_on_eintr([&] { return ::poll(&readable, 1, static_cast<int>(timeout.count())); }) !=
         0;
}

bool SocketStream::peer_finished_sending() {
  // The peer's FIN puts the socket in CLOSE_WAIT; our own SHUT_RD sends nothing and leaves it
  // ESTABLISHED, so this tells the two ends of stream apart where recv() cannot.
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd_.get(), IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return false;
  return info.tcpi_state == TCP_CLOSE_WAIT;
}

std::error_code SocketStream::send_all(std::string_view bytes) {
  return tcp_server::send_all(fd_.get(), bytes);
}

void SocketStream::send_without_waiting(std::string_view bytes) noexcept {
  (void)::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void SocketStream::shut_down(int how) noexcept {
  ::shutdown(fd_.get(), how);
}

void SocketStream::reset_on_close() noexcept {
  // A zero linger time makes close() send RST and drop anything unsent (socket(7), SO_LINGER).
  const linger reset{1, 0};
  (void)::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
}

}  // namespace tcp_server
