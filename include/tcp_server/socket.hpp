#pragma once

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <span>
#include <string_view>
#include <system_error>

#include "tcp_server/endpoint.hpp"
#include "tcp_server/unique_fd.hpp"

// Thin, errno-free wrappers over the socket calls the server and client make. Every function
// returns std::error_code captured right at the syscall; none throws, none touches signal
// dispositions (sends use MSG_NOSIGNAL instead of ignoring SIGPIPE process-wide).
namespace tcp_server {

[[nodiscard]] inline std::error_code errno_code(int error) {
  return {error, std::system_category()};
}

// Calls f() again while it fails with EINTR; f returns a negative value on failure.
template <class Call>
auto retry_on_eintr(Call call) {
  for (;;) {
    auto result = call();
    if (!(result < 0 && errno == EINTR)) return result;
  }
}

struct ReceiveResult {
  std::size_t bytes = 0;  // 0 with no error: the peer closed its side (end of stream)
  std::error_code error;  // EAGAIN/EWOULDBLOCK here means SO_RCVTIMEO expired
};

ReceiveResult receive_some(int fd, std::span<char> buffer);

// Sends every byte, completing short writes; EINTR is retried. EPIPE/ECONNRESET mean the peer
// went away; EAGAIN means SO_SNDTIMEO expired with the peer not reading.
std::error_code send_all(int fd, std::string_view bytes);

// True for errors that only say the peer is gone (reset, broken pipe): not worth a warning.
[[nodiscard]] bool is_peer_gone(std::error_code error) noexcept;
// True for the errors SO_RCVTIMEO / SO_SNDTIMEO produce.
[[nodiscard]] bool is_timeout(std::error_code error) noexcept;

std::error_code set_no_delay(int fd, bool enabled);
std::error_code set_receive_timeout(int fd, std::chrono::milliseconds timeout);  // 0 = none
std::error_code set_send_timeout(int fd, std::chrono::milliseconds timeout);     // 0 = none

struct KeepaliveSettings {
  bool enabled = false;
  std::chrono::seconds idle{60};      // TCP_KEEPIDLE
  std::chrono::seconds interval{10};  // TCP_KEEPINTVL
  int probes = 5;                     // TCP_KEEPCNT
};
std::error_code set_keepalive(int fd, const KeepaliveSettings& settings);

Endpoint local_endpoint(int fd);
Endpoint peer_endpoint(int fd);

// A blocking TCP connection to endpoint, given up after timeout. For tests and tcp_client.
UniqueFd connect_to(const Endpoint& endpoint, std::chrono::milliseconds timeout,
                    std::error_code& error);

}  // namespace tcp_server
