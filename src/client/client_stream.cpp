#include "client_stream.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "tcp_server/socket.hpp"
#include "tls_client.hpp"

namespace tcp_server::client {
namespace {

class PlainStream final : public ClientStream {
 public:
  explicit PlainStream(UniqueFd fd) : fd_(std::move(fd)) {}

  [[nodiscard]] int fd() const override { return fd_.get(); }
  IoResult handshake() override { return IoResult::done(); }

  IoResult read_some(std::span<char> buffer) override {
    const ssize_t received = retry_on_eintr(
        [&] { return ::recv(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT); });
    if (received > 0) return IoResult::done(static_cast<std::size_t>(received));
    if (received == 0) return IoResult::with(IoStatus::kClosed);
    return failure_or_retry(errno, IoStatus::kWantRead, "receive");
  }

  IoResult write_some(std::string_view bytes) override {
    const ssize_t sent = retry_on_eintr(
        [&] { return ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT); });
    if (sent >= 0) return IoResult::done(static_cast<std::size_t>(sent));
    return failure_or_retry(errno, IoStatus::kWantWrite, "send");
  }

  void shutdown_write() override { ::shutdown(fd_.get(), SHUT_WR); }
  [[nodiscard]] bool has_buffered_input() const override { return false; }
  [[nodiscard]] bool resumed() const override { return false; }

 private:
  static IoResult failure_or_retry(int error, IoStatus retry, const char* what) {
    if (error == EAGAIN || error == EWOULDBLOCK) return IoResult::with(retry);
    const std::error_code code = errno_code(error);
    return IoResult::failed(std::string(what) + ": " + code.message(), code);
  }

  UniqueFd fd_;
};

// Waits until fd is ready for what `wanted` asks (kWantRead/kWantWrite); false at the deadline.
bool wait_until_ready(int fd, IoStatus wanted, StreamClock::time_point deadline) {
  pollfd waiting{fd, static_cast<short>(wanted == IoStatus::kWantWrite ? POLLOUT : POLLIN), 0};
  for (;;) {
    int timeout = -1;
    if (deadline != StreamClock::time_point::max()) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - StreamClock::now()).count();
      if (left <= 0) return false;
      timeout = static_cast<int>(std::min<std::int64_t>(left, 1'000'000));
    }
    const int ready = ::poll(&waiting, 1, timeout);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return true;  // the next call reports the socket's error
  }
}

}  // namespace

StreamConnector::StreamConnector(std::shared_ptr<const TlsClientContext> tls)
    : tls_(std::move(tls)) {}

std::unique_ptr<ClientStream> StreamConnector::wrap(UniqueFd fd, TlsSessionStore* sessions) const {
  if (!tls_) return std::make_unique<PlainStream>(std::move(fd));
  return tls_->wrap(std::move(fd), sessions);
}

bool StreamConnector::resume() const {
  return tls_ != nullptr && tls_->resume();
}

StreamConnector make_stream_connector(const TlsClientOptions& options, const Target& target,
                                      std::ostream& err) {
  if (!options.enabled) return {};
  auto context = std::make_shared<const TlsClientContext>(options, target.host);
  if (options.insecure) {
    err << "tcp_client: --tls-insecure: the server's certificate is not verified\n";
  }
  return StreamConnector(std::move(context));
}

std::unique_ptr<ClientStream> open_stream(const StreamConnector& connector, const Endpoint& server,
                                          std::chrono::milliseconds timeout, std::string& why) {
  const auto deadline = StreamClock::now() + timeout;
  std::error_code error;
  UniqueFd fd = connect_to(server, timeout, error);
  if (error) {
    why = "connect to " + server.to_string() + ": " + error.message();
    return nullptr;
  }
  set_no_delay(fd.get(), true);
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  auto stream = connector.wrap(std::move(fd), nullptr);
  for (;;) {
    const IoResult step = stream->handshake();
    if (step.status == IoStatus::kDone) return stream;
    if (step.status == IoStatus::kFailed) {
      why = "TLS handshake with " + server.to_string() + ": " + step.message;
      return nullptr;
    }
    if (!wait_until_ready(stream->fd(), step.status, deadline)) {
      why = "TLS handshake with " + server.to_string() + ": not finished within " +
            std::to_string(timeout.count()) + " ms";
      return nullptr;
    }
  }
}

IoResult write_all(ClientStream& stream, std::string_view bytes, StreamClock::time_point deadline) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const IoResult step = stream.write_some(bytes.substr(written));
    switch (step.status) {
      case IoStatus::kDone:
        written += step.bytes;
        break;
      case IoStatus::kWantRead:
      case IoStatus::kWantWrite:
        if (!wait_until_ready(stream.fd(), step.status, deadline)) {
          return {IoStatus::kTimedOut, written, {}, {}};
        }
        break;
      default:
        return step;
    }
  }
  return IoResult::done(written);
}

IoResult read_some_until(ClientStream& stream, std::span<char> buffer,
                         StreamClock::time_point deadline) {
  for (;;) {
    const IoResult step = stream.read_some(buffer);
    if (step.status != IoStatus::kWantRead && step.status != IoStatus::kWantWrite) return step;
    if (!wait_until_ready(stream.fd(), step.status, deadline)) {
      return IoResult::with(IoStatus::kTimedOut);
    }
  }
}

}  // namespace tcp_server::client
