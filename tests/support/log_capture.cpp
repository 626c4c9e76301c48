#include "log_capture.hpp"

namespace tcp_server::testing {

class CapturedLog::Sink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  std::size_t count_containing(const std::string& text) {
    std::lock_guard lock(mutex_);
    return count_locked(text);
  }
  bool wait_for(const std::string& text, std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return added_.wait_for(lock, timeout, [&] { return count_locked(text) >= count; });
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    // base_sink holds mutex_ here.
    lines_.emplace_back(message.payload.data(), message.payload.size());
    added_.notify_all();
  }
  void flush_() override {}

 private:
  std::size_t count_locked(const std::string& text) const {
    std::size_t count = 0;
    for (const auto& line : lines_) count += line.find(text) != std::string::npos ? 1 : 0;
    return count;
  }
  std::vector<std::string> lines_;
  std::condition_variable_any added_;
};

CapturedLog::CapturedLog()
    : sink_(std::make_shared<Sink>()),
      logger_(std::make_shared<spdlog::logger>("captured", sink_)) {
  logger_->set_level(spdlog::level::trace);
}

std::vector<std::string> CapturedLog::lines() const {
  return sink_->lines();
}

std::vector<std::string> CapturedLog::lines_containing(const std::string& text) const {
  std::vector<std::string> found;
  for (auto& line : sink_->lines()) {
    if (line.find(text) != std::string::npos) found.push_back(std::move(line));
  }
  return found;
}

bool CapturedLog::wait_for(const std::string& text, std::size_t count,
                           std::chrono::milliseconds timeout) const {
  return sink_->wait_for(text, count, timeout);
}

}  // namespace tcp_server::testing
