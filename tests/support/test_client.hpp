#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "tcp_server/endpoint.hpp"
#include "tcp_server/unique_fd.hpp"

namespace tcp_server::testing {

inline constexpr std::chrono::milliseconds kIoTimeout{10'000};

// A blocking test client in which every wait is bounded. Failures throw std::runtime_error
// with what happened, so a test fails with a reason instead of hanging.
class TestClient {
 public:
  explicit TestClient(const Endpoint& server, std::chrono::milliseconds timeout = kIoTimeout);
  // Connects from a given local address (e.g. 127.0.0.2: all of 127/8 is loopback).
  TestClient(const Endpoint& server, const Endpoint& from,
             std::chrono::milliseconds timeout = kIoTimeout);

  void send(std::string_view bytes);
  // Exactly n bytes, or throws (timeout, or the server closed first).
  std::string read_exactly(std::size_t n, std::chrono::milliseconds timeout = kIoTimeout);
  // Up to and including the next '\n'.
  std::string read_line(std::chrono::milliseconds timeout = kIoTimeout);
  // Whatever arrives within timeout (may be empty).
  std::string read_available(std::chrono::milliseconds timeout);
  // True when the server closes (EOF or reset) within timeout; data before it is discarded.
  bool wait_for_close(std::chrono::milliseconds timeout = kIoTimeout);
  // Sends FIN: the server reads end of stream, we can still read.
  void shutdown_write();
  // Closes with an RST instead of a FIN (SO_LINGER 0).
  void reset();

  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] Endpoint local() const;

 private:
  // Waits for readability; false on timeout.
  bool wait_readable(std::chrono::steady_clock::time_point deadline);
  UniqueFd fd_;
  std::string pending_;  // received past the last line read_line() returned
};

}  // namespace tcp_server::testing
