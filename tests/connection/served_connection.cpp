#include "served_connection.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <stdexcept>

#include "socket_stream.hpp"
#include "tcp_server/listener.hpp"

namespace tcp_server::testing {

ServedConnection::ServedConnection(ServerConfig config, UniqueFd socket, const Endpoint& peer)
    : config_(std::move(config)),
      log_(captured_.logger()),
      responder_(config_, 0),
      admission_(config_, stats_, log_),
      services_{config_, responder_, admission_, log_, stats_},
      registry_(0, {}),
      socket_fd_(socket.get()),
      connection_(std::make_unique<Connection>(std::make_unique<SocketStream>(std::move(socket)),
                                               peer, 1, services_)) {
  connection_->enroll(registry_.add(*connection_));
}

ServedConnection::~ServedConnection() {
  if (!thread_.joinable()) return;
  if (!wait_until_done()) registry_.shut_down_all(SHUT_RDWR);
  thread_.join();
}

void ServedConnection::start(std::function<void()> on_thread) {
  std::promise<void> started;
  std::future<void> ready = started.get_future();
  // The promise lives in the thread: it may still be inside set_value() when start() returns.
  thread_ =
      std::thread([this, started = std::move(started), on_thread = std::move(on_thread)]() mutable {
        thread_id_.store(::gettid());
        if (on_thread) on_thread();
        started.set_value();
        connection_->serve();
      });
  if (ready.wait_for(kIoTimeout) != std::future_status::ready) {
    throw std::runtime_error("the connection's thread did not start");
  }
}

bool ServedConnection::wait_until_done(std::chrono::milliseconds timeout) {
  return registry_.wait_until_empty(std::chrono::steady_clock::now() + timeout);
}

LoopbackPair connect_over_loopback() {
  Listener listener = Listener::open({.host = "127.0.0.1", .port = 0});
  TestClient client(listener.local_endpoint());
  pollfd ready{listener.fd(), POLLIN, 0};
  if (::poll(&ready, 1, static_cast<int>(kIoTimeout.count())) != 1) {
    throw std::runtime_error("accept: nothing to accept in time");
  }
  Listener::Accepted accepted = listener.accept();
  if (accepted.error) throw std::runtime_error("accept failed: " + accepted.error.message());
  return LoopbackPair{std::move(client), std::move(accepted.fd), accepted.peer};
}

}  // namespace tcp_server::testing
