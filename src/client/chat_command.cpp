#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ostream>
#include <string>

#include "commands.hpp"
#include "tcp_server/socket.hpp"

namespace tcp_server::client {
namespace {

// write(2) until every byte is out; false when the output is gone.
bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t written = retry_on_eintr([&] { return ::write(fd, data, size); });
    if (written < 0) return false;
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

}  // namespace

int run_chat(const ChatOptions& options, int in_fd, int out_fd, std::ostream& err) {
  Endpoint server;
  try {
    server = resolve_target(options.target);
  } catch (const std::system_error& error) {
    err << "tcp_client: error: " << error.what() << '\n';
    return 1;
  }
  std::error_code error;
  const UniqueFd socket = connect_to(server, options.timeout, error);
  if (error) {
    err << "tcp_client: error: connect to " << server.to_string() << ": " << error.message()
        << '\n';
    return 1;
  }
  set_no_delay(socket.get(), true);

  bool input_open = true;
  char buffer[16 * 1024];
  for (;;) {
    pollfd watched[2] = {{socket.get(), POLLIN, 0}, {in_fd, POLLIN, 0}};
    // Once input has ended, only the server's close is awaited, and only for so long.
    const int timeout = input_open ? -1 : static_cast<int>(options.timeout.count());
    const int ready = retry_on_eintr([&] { return ::poll(watched, input_open ? 2 : 1, timeout); });
    if (ready < 0) {
      err << "tcp_client: error: poll: " << errno_code(errno).message() << '\n';
      return 1;
    }
    if (ready == 0) {
      err << "tcp_client: error: the server did not close the connection within "
          << options.timeout.count() << " ms of the end of input\n";
      return 1;
    }
    if (watched[0].revents != 0) {
      const auto received = receive_some(socket.get(), buffer);
      if (received.error) {
        err << "tcp_client: error: receive: " << received.error.message() << '\n';
        return 1;
      }
      if (received.bytes == 0) {
        if (input_open) err << "tcp_client: the server closed the connection\n";
        return 0;
      }
      if (!write_all(out_fd, buffer, received.bytes)) return 1;
    }
    if (input_open && watched[1].revents != 0) {
      const ssize_t got = retry_on_eintr([&] { return ::read(in_fd, buffer, sizeof buffer); });
      if (got <= 0) {
        // End of input: tell the server we are done sending, keep reading its replies.
        input_open = false;
        ::shutdown(socket.get(), SHUT_WR);
        continue;
      }
      if (const auto sent =
              send_all(socket.get(), std::string_view(buffer, static_cast<std::size_t>(got)))) {
        err << "tcp_client: error: send: " << sent.message() << '\n';
        return 1;
      }
    }
  }
}

}  // namespace tcp_server::client
