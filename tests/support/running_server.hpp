#pragma once

#include <exception>
#include <memory>
#include <thread>

#include "log_capture.hpp"
#include "tcp_server/config.hpp"
#include "tcp_server/server.hpp"

namespace tcp_server::testing {

// A config for tests: 127.0.0.1, a port the kernel chooses.
ServerConfig loopback_config();

// A Server running on its own thread with a captured log; stopped and joined on destruction.
class RunningServer {
 public:
  explicit RunningServer(ServerConfig config);
  ~RunningServer();
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  // Where clients connect: the bound address (loopback of the same family for a wildcard).
  [[nodiscard]] Endpoint endpoint() const;
  [[nodiscard]] Server& server() { return *server_; }
  [[nodiscard]] const CapturedLog& log() const { return log_; }

  // stop(), then wait for run() to return (rethrowing what it threw).
  void stop_and_join();

 private:
  CapturedLog log_;
  std::unique_ptr<Server> server_;
  std::exception_ptr failure_;
  std::thread thread_;
};

}  // namespace tcp_server::testing
