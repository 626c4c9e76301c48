#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "admission.hpp"
#include "connection.hpp"
#include "connection_registry.hpp"
#include "log_capture.hpp"
#include "server_log.hpp"
#include "tcp_server/config.hpp"
#include "tcp_server/endpoint.hpp"
#include "tcp_server/live_responder.hpp"
#include "tcp_server/stats.hpp"
#include "tcp_server/unique_fd.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {

// One Connection (src/connection.hpp, private to the library: only this test executable sees
// src/) served on a thread of its own, over a socket the test made, with what a server would
// give it: the config, a captured log, counters and a registry. The test drives what the server
// would do to it (begin_drain, shut_down_all) and decides when its thread starts.
class ServedConnection {
 public:
  // peer is the client address the log shows.
  ServedConnection(ServerConfig config, UniqueFd socket, const Endpoint& peer);
  // Waits (bounded) for serve() to return, cutting the socket off (SHUT_RDWR) if it does not;
  // then joins.
  ~ServedConnection();
  ServedConnection(const ServedConnection&) = delete;
  ServedConnection& operator=(const ServedConnection&) = delete;

  // Runs serve() on a new thread; on_thread runs on it first (to pin it, say). Returns once
  // on_thread has run.
  void start(std::function<void()> on_thread = {});

  // What the server's drain does: registry.begin_drain(), then (at the deadline) shut_down_all.
  void begin_drain() { registry_.begin_drain(); }
  void shut_down_all(int how) { registry_.shut_down_all(how); }

  // True when serve() has returned (the connection left the registry) within timeout.
  bool wait_until_done(std::chrono::milliseconds timeout = kIoTimeout);

  [[nodiscard]] StatsSnapshot stats() const { return stats_.snapshot(); }
  [[nodiscard]] const CapturedLog& log() const { return captured_; }
  // The connection's socket, to look at (poll) from the test; owned by the connection.
  [[nodiscard]] int socket_fd() const noexcept { return socket_fd_; }
  // The serving thread's kernel id (for /proc/self/task/<tid>), once start() has returned.
  [[nodiscard]] pid_t thread_id() const noexcept { return thread_id_.load(); }

 private:
  ServerConfig config_;
  CapturedLog captured_;
  ServerLog log_;
  ServerStats stats_;
  LiveResponder responder_;
  Admission admission_;
  ConnectionServices services_;
  ConnectionRegistry registry_;
  int socket_fd_;
  std::unique_ptr<Connection> connection_;
  std::atomic<pid_t> thread_id_{0};
  std::thread thread_;
};

// A connected TCP pair on loopback: the test's client and the server side's accepted socket.
struct LoopbackPair {
  TestClient client;
  UniqueFd server;
  Endpoint peer;  // the client as the server side sees it
};
LoopbackPair connect_over_loopback();

}  // namespace tcp_server::testing
