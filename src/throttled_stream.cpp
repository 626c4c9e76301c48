#include "throttled_stream.hpp"

#include <sys/socket.h>

#include <algorithm>

namespace tcp_server {

std::error_code ThrottledStream::send_all(std::string_view bytes) {
  const std::size_t piece_size = pacer_.piece_size();
  while (!bytes.empty()) {
    const auto now = SendPacer::Clock::now();
    const auto when = pacer_.next_send(now);
    if (when > now && !stopped_.wait_until(when)) {
      // Shut down while waiting: what the socket would have said.
      return std::make_error_code(std::errc::broken_pipe);
    }
    const std::string_view piece = bytes.substr(0, std::min(piece_size, bytes.size()));
    if (const std::error_code error = inner_->send_all(piece)) return error;
    pacer_.sent(piece.size(), std::max(when, SendPacer::Clock::now()));
    bytes.remove_prefix(piece.size());
  }
  return {};
}

void ThrottledStream::shut_down(int how) noexcept {
  if (how != SHUT_RD) stopped_.wake();
  inner_->shut_down(how);
}

}  // namespace tcp_server
