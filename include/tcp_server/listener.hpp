#pragma once

#include <cstdint>
#include <string>
#include <system_error>

#include "tcp_server/endpoint.hpp"
#include "tcp_server/unique_fd.hpp"

namespace tcp_server {

struct ListenOptions {
  std::string host;  // empty: every interface, dual-stack [::], or 0.0.0.0 where IPv6 is absent
  std::uint16_t port = 9090;  // 0: the kernel chooses; read it back with local_endpoint()
  int backlog = 128;
  bool reuse_port = false;  // SO_REUSEPORT, for several processes on one port
};

// What the accept loop should do after accept() failed with a given errno. Kept apart from the
// loop so the policy is one tested table rather than scattered ifs.
enum class AcceptErrorAction {
  kRetry,    // the connection died in the queue or a signal arrived: try again at once
  kBackOff,  // out of fds or memory: retrying now would spin; wait, then retry
  kStop,     // the listener is gone (shut down or closed)
  kWait,     // nothing to accept right now (non-blocking listener)
};
AcceptErrorAction classify_accept_error(std::error_code error) noexcept;

// A listening TCP socket: bound by us, or adopted from a parent (systemd socket activation).
// The listener is non-blocking; the owner polls fd() and calls accept() when it is readable.
// Not thread safe except where noted.
class Listener {
 public:
  // Binds and listens with SO_REUSEADDR. Throws std::system_error whose what() names the
  // address, e.g. "cannot listen on [::]:9090: Address already in use".
  static Listener open(const ListenOptions& options);

  // Takes over an inherited listening socket. Throws std::system_error if fd is not a listening
  // stream socket.
  static Listener adopt(UniqueFd fd);

  struct Accepted {
    UniqueFd fd;  // blocking, close-on-exec; invalid when error is set
    Endpoint peer;
    std::error_code error;  // why accept() failed; empty on success
  };
  Accepted accept();

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  [[nodiscard]] const Endpoint& local_endpoint() const noexcept { return local_; }
  [[nodiscard]] bool inherited() const noexcept { return inherited_; }

 private:
  Listener(UniqueFd fd, bool inherited);
  UniqueFd fd_;
  Endpoint local_;
  bool inherited_ = false;
};

}  // namespace tcp_server
