#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ostream>
#include <string>

#include "client_stream.hpp"
#include "commands.hpp"
#include "tcp_server/socket.hpp"

namespace tcp_server::client {
namespace {

// write(2) until every byte is out; false when the output is gone.
bool write_to_fd(int fd, const char* data, std::size_t size) {
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
  StreamConnector connector;
  try {
    server = resolve_target(options.target);
    connector = make_stream_connector(options.tls, options.target, err);
  } catch (const std::exception& error) {
    err << "tcp_client: error: " << error.what() << '\n';
    return 1;
  }
  std::string why;
  const auto stream = open_stream(connector, server, options.timeout, why);
  if (!stream) {
    err << "tcp_client: error: " << why << '\n';
    return 1;
  }

  bool input_open = true;
  // TLS may need the socket writable to go on reading (and readable to go on writing).
  short server_events = POLLIN;
  char buffer[16 * 1024];
  for (;;) {
    pollfd watched[2] = {{stream->fd(), server_events, 0}, {in_fd, POLLIN, 0}};
    // Once input has ended, only the server's close is awaited, and only for so long.
    int timeout = input_open ? -1 : static_cast<int>(options.timeout.count());
    // A decrypted record already buffered is not the socket's to report.
    if (stream->has_buffered_input()) timeout = 0;
    const int ready = retry_on_eintr([&] { return ::poll(watched, input_open ? 2 : 1, timeout); });
    if (ready < 0) {
      err << "tcp_client: error: poll: " << errno_code(errno).message() << '\n';
      return 1;
    }
    const bool buffered = stream->has_buffered_input();
    if (ready == 0 && !buffered) {
      err << "tcp_client: error: the server did not close the connection within "
          << options.timeout.count() << " ms of the end of input\n";
      return 1;
    }
    if (watched[0].revents != 0 || buffered) {
      const IoResult received = stream->read_some(buffer);
      server_events = POLLIN;
      switch (received.status) {
        case IoStatus::kDone:
          if (!write_to_fd(out_fd, buffer, received.bytes)) return 1;
          break;
        case IoStatus::kWantRead:
          break;
        case IoStatus::kWantWrite:
          server_events = POLLOUT;
          break;
        case IoStatus::kClosed:
          if (input_open) err << "tcp_client: the server closed the connection\n";
          return 0;
        default:
          err << "tcp_client: error: receive: " << received.message << '\n';
          return 1;
      }
    }
    if (input_open && watched[1].revents != 0) {
      const ssize_t got = retry_on_eintr([&] { return ::read(in_fd, buffer, sizeof buffer); });
      if (got <= 0) {
        // End of input: tell the server we are done sending, keep reading its replies.
        input_open = false;
        stream->shutdown_write();
        continue;
      }
      const IoResult sent =
          write_all(*stream, std::string_view(buffer, static_cast<std::size_t>(got)),
                    StreamClock::time_point::max());
      if (sent.status != IoStatus::kDone) {
        err << "tcp_client: error: send: " << sent.message << '\n';
        return 1;
      }
    }
  }
}

}  // namespace tcp_server::client
