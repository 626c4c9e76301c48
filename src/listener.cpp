#include "tcp_server/listener.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <vector>

#include "tcp_server/socket.hpp"

namespace tcp_server {
namespace {

std::system_error listen_error(std::error_code error, const std::string& where) {
  return std::system_error(error, "cannot listen on " + where);
}

std::string describe(const Endpoint& endpoint) {
  return endpoint.to_string();
}

// Binds one address. Returns the socket, or sets error and returns an invalid fd.
UniqueFd bind_one(const Endpoint& address, const ListenOptions& options, std::error_code& error) {
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    error = errno_code(errno);
    return {};
  }
  const int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
    error = errno_code(errno);
    return {};
  }
  if (options.reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
    error = errno_code(errno);
    return {};
  }
  if (address.is_v6()) {
    // Only the wildcard serves both families; net.ipv6.bindv6only may have changed the default.
    const int v6only =
        address.address_bytes() == std::string_view("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) ? 0 : 1;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (::bind(fd.get(), address.sockaddr_ptr(), address.sockaddr_length()) != 0 ||
      ::listen(fd.get(), options.backlog) != 0) {
    error = errno_code(errno);
    return {};
  }
  return fd;
}

std::vector<Endpoint> resolve_host(const ListenOptions& options) {
  if (auto literal = Endpoint::from_ip(options.host, options.port)) return {*literal};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options.port);
  const int status = ::getaddrinfo(options.host.c_str(), port.c_str(), &hints, &found);
  if (status != 0) {
    throw std::system_error(
        std::make_error_code(std::errc::invalid_argument),
        "cannot resolve host '" + options.host + "': " + ::gai_strerror(status));
  }
  std::vector<Endpoint> endpoints;
  for (const addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    endpoints.push_back(Endpoint::from_sockaddr(entry->ai_addr, entry->ai_addrlen));
  }
  ::freeaddrinfo(found);
  return endpoints;
}

}  // namespace

AcceptErrorAction classify_accept_error(std::error_code error) noexcept {
  if (error.category() != std::system_category()) return AcceptErrorAction::kStop;
  switch (error.value()) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      return AcceptErrorAction::kWait;
    // accept(2): the connection was aborted or failed in the queue, or "Linux passes
    // already-pending network errors on the new socket as an error code from accept()";
    // EPERM is a firewall verdict on one connection. None says anything about the listener.
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
    case ETIMEDOUT:
      return AcceptErrorAction::kRetry;
    // The connection stays queued; accepting again at once would fail the same way and spin.
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return AcceptErrorAction::kBackOff;
    default:  // EBADF, EINVAL (shut down), ENOTSOCK: the listener itself is unusable
      return AcceptErrorAction::kStop;
  }
}

Listener::Listener(UniqueFd fd, bool inherited)
    : fd_(std::move(fd)), local_(tcp_server::local_endpoint(fd_.get())), inherited_(inherited) {}

Listener Listener::open(const ListenOptions& options) {
  if (!options.host.empty()) {
    std::error_code error;
    std::string tried;
    for (const Endpoint& address : resolve_host(options)) {
      if (UniqueFd fd = bind_one(address, options, error)) return Listener(std::move(fd), false);
      tried = describe(address);
    }
    throw listen_error(error, tried.empty() ? options.host : tried);
  }
  Endpoint any_v6 = *Endpoint::from_ip("::", options.port);
  std::error_code error;
  if (UniqueFd fd = bind_one(any_v6, options, error)) return Listener(std::move(fd), false);
  // Fall back to IPv4 only where IPv6 itself is missing, not when the port is taken.
  if (error != std::errc::address_family_not_supported &&
      error != std::errc::address_not_available && error != std::errc::protocol_not_supported) {
    throw listen_error(error, describe(any_v6));
  }
  Endpoint any_v4 = *Endpoint::from_ip("0.0.0.0", options.port);
  if (UniqueFd fd = bind_one(any_v4, options, error)) return Listener(std::move(fd), false);
  throw listen_error(error, describe(any_v4));
}

Listener Listener::adopt(UniqueFd fd) {
  int type = 0;
  int listening = 0;
  socklen_t length = sizeof type;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &length) != 0) {
    throw std::system_error(errno_code(errno), "inherited fd " + std::to_string(fd.get()));
  }
  length = sizeof listening;
  if (type != SOCK_STREAM ||
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || !listening) {
    throw std::system_error(
        std::make_error_code(std::errc::invalid_argument),
        "inherited fd " + std::to_string(fd.get()) + " is not a listening TCP socket");
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
  ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);
  return Listener(std::move(fd), true);
}

Listener::Accepted Listener::accept() {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  // No SOCK_NONBLOCK: a connection thread does blocking I/O with SO_RCVTIMEO/SO_SNDTIMEO.
  const int fd = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length, SOCK_CLOEXEC);
  if (fd < 0) return {UniqueFd(), Endpoint(), errno_code(errno)};
  return {UniqueFd(fd), Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&address), length), {}};
}

}  // namespace tcp_server
