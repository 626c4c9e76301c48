#include "server_log.hpp"

#include <fmt/format.h>

#include <cstring>

namespace tcp_server {

ServerLog::ServerLog(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}

std::string format_duration(std::chrono::steady_clock::duration duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  if (seconds < 1.0) return fmt::format("{:.3f} s", seconds);
  if (seconds < 100.0) return fmt::format("{:.1f} s", seconds);
  return fmt::format("{:.0f} s", seconds);
}

void ServerLog::listening(const Endpoint& local, bool inherited, std::size_t max_connections) {
  logger_->info("listening on {}{} (max {} connections)", local.to_string(),
                inherited ? " (inherited socket)" : "", max_connections);
  logger_->flush();
}

void ServerLog::connected(std::string_view peer) {
  logger_->info("{} connected", peer);
}

void ServerLog::message(std::string_view peer, std::string_view display_payload) {
  logger_->info("{} {}", peer, display_payload);
}

void ServerLog::disconnected(std::string_view peer, std::chrono::steady_clock::duration lifetime,
                             std::uint64_t messages, std::uint64_t bytes_in, CloseReason reason,
                             std::string_view note) {
  logger_->info("{} disconnected after {}, {} message{}, {} bytes in ({}{}{})", peer,
                format_duration(lifetime), messages, messages == 1 ? "" : "s", bytes_in,
                to_string(reason), note.empty() ? "" : ": ", note);
}

bool ServerLog::allow(Throttle& throttle, std::chrono::steady_clock::duration interval,
                      std::uint64_t& suppressed) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(throttle_mutex_);
  if (now < throttle.next_allowed) {
    ++throttle.suppressed;
    return false;
  }
  throttle.next_allowed = now + interval;
  suppressed = std::exchange(throttle.suppressed, 0);
  return true;
}

void ServerLog::rejected(std::string_view peer, RejectReason reason, std::string_view detail) {
  std::uint64_t suppressed = 0;
  if (!allow(reject_throttles_[static_cast<std::size_t>(reason)], std::chrono::seconds(1),
             suppressed)) {
    return;
  }
  if (suppressed == 0) {
    logger_->warn("{} rejected: {} ({})", peer, to_string(reason), detail);
  } else {
    logger_->warn("{} rejected: {} ({}); {} more rejected for this reason since the last line",
                  peer, to_string(reason), detail, suppressed);
  }
}

void ServerLog::accept_failing(int error, std::chrono::milliseconds retry_in) {
  std::uint64_t suppressed = 0;
  {
    std::lock_guard lock(throttle_mutex_);
    accept_failing_ = true;
  }
  if (!allow(accept_throttle_, std::chrono::seconds(10), suppressed)) return;
  logger_->warn("accept failed: {}; existing clients are still served, retrying in {} ms{}",
                std::strerror(error), retry_in.count(),
                suppressed == 0
                    ? std::string()
                    : fmt::format(" ({} more failures since the last line)", suppressed));
}

void ServerLog::accept_recovered() {
  {
    std::lock_guard lock(throttle_mutex_);
    if (!std::exchange(accept_failing_, false)) return;
  }
  logger_->info("accept recovered");
}

void ServerLog::stats(std::string_view label, const StatsSnapshot& snapshot) {
  logger_->info("{}: {}", label, format_stats(snapshot));
  logger_->flush();
}

}  // namespace tcp_server
