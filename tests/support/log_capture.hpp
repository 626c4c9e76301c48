#pragma once

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tcp_server::testing {

// An spdlog sink that keeps every formatted line (message text only) so tests can wait for and
// assert on what the server logged. Thread safe.
class CapturedLog {
 public:
  CapturedLog();

  [[nodiscard]] std::shared_ptr<spdlog::logger> logger() const { return logger_; }
  [[nodiscard]] std::vector<std::string> lines() const;
  // Lines containing text.
  [[nodiscard]] std::vector<std::string> lines_containing(const std::string& text) const;
  // Waits until at least count lines contain text; false on timeout.
  bool wait_for(const std::string& text, std::size_t count = 1,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  class Sink;
  std::shared_ptr<Sink> sink_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace tcp_server::testing
