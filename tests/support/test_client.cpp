#include "test_client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <stdexcept>

#include "tcp_server/socket.hpp"

namespace tcp_server::testing {

TestClient::TestClient(const Endpoint& server, std::chrono::milliseconds timeout) {
  std::error_code error;
  fd_ = connect_to(server, timeout, error);
  if (error) throw std::runtime_error("connect " + server.to_string() + ": " + error.message());
}

TestClient::TestClient(const Endpoint& server, const Endpoint& from,
                       std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(server.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::bind(fd.get(), from.sockaddr_ptr(), from.sockaddr_length()) != 0) {
    throw std::runtime_error("bind " + from.to_string() + " failed");
  }
  set_send_timeout(fd.get(), timeout);
  if (::connect(fd.get(), server.sockaddr_ptr(), server.sockaddr_length()) != 0) {
    throw std::runtime_error("connect " + server.to_string() + " from " + from.to_string() +
                             " failed");
  }
  fd_ = std::move(fd);
}

void TestClient::send(std::string_view bytes) {
  if (const auto error = send_all(fd_.get(), bytes)) {
    throw std::runtime_error("send: " + error.message());
  }
}

bool TestClient::wait_readable(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd waiting{fd_.get(), POLLIN, 0};
  return retry_on_eintr([&] { return ::poll(&waiting, 1, static_cast<int>(left.count())); }) > 0;
}

std::string TestClient::read_exactly(std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string result = std::move(pending_);
  pending_.clear();
  char buffer[16 * 1024];
  while (result.size() < n) {
    if (!wait_readable(deadline)) {
      throw std::runtime_error("timed out after " + std::to_string(result.size()) + " of " +
                               std::to_string(n) + " bytes: '" + result.substr(0, 200) + "'");
    }
    const auto received = receive_some(fd_.get(), {buffer, sizeof buffer});
    if (received.error) throw std::runtime_error("recv: " + received.error.message());
    if (received.bytes == 0) {
      throw std::runtime_error("server closed after " + std::to_string(result.size()) + " of " +
                               std::to_string(n) + " bytes: '" + result.substr(0, 200) + "'");
    }
    result.append(buffer, received.bytes);
  }
  pending_ = result.substr(n);
  result.resize(n);
  return result;
}

std::string TestClient::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    if (const auto end = pending_.find('\n'); end != std::string::npos) {
      std::string line = pending_.substr(0, end + 1);
      pending_.erase(0, end + 1);
      return line;
    }
    if (!wait_readable(deadline)) {
      throw std::runtime_error("timed out waiting for a line; have '" + pending_ + "'");
    }
    const auto received = receive_some(fd_.get(), {buffer, sizeof buffer});
    if (received.error) throw std::runtime_error("recv: " + received.error.message());
    if (received.bytes == 0) throw std::runtime_error("server closed; have '" + pending_ + "'");
    pending_.append(buffer, received.bytes);
  }
}

std::string TestClient::read_available(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string result = std::move(pending_);
  pending_.clear();
  char buffer[4096];
  while (wait_readable(deadline)) {
    const auto received = receive_some(fd_.get(), {buffer, sizeof buffer});
    if (received.error || received.bytes == 0) break;
    result.append(buffer, received.bytes);
  }
  return result;
}

bool TestClient::wait_for_close(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  while (wait_readable(deadline)) {
    const auto received = receive_some(fd_.get(), {buffer, sizeof buffer});
    if (received.error || received.bytes == 0) return true;
  }
  return false;
}

void TestClient::shutdown_write() {
  ::shutdown(fd_.get(), SHUT_WR);
}

void TestClient::reset() {
  const linger abortive{1, 0};
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
  fd_.reset();
}

Endpoint TestClient::local() const {
  return local_endpoint(fd_.get());
}

}  // namespace tcp_server::testing
