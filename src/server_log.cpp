#include "server_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace tcp_server {

ServerLog::ServerLog(std::shared_ptr<spdlog::logger> logger, LogFormat format, bool hex_payloads)
    : logger_(std::move(logger)), encoder_(make_log_encoder(format, hex_payloads)) {}

namespace {

// Bytes of a rejection's detail shown in its line.
constexpr std::size_t kRejectDetailMax = 200;

}  // namespace

template <typename Encode>
void ServerLog::write(spdlog::level::level_enum level, Encode encode) {
  if (!logger_->should_log(level)) return;
  LogLine line;
  encode(line);
  logger_->log(level, spdlog::string_view_t(line.data(), line.size()));
}

void ServerLog::listening(const Endpoint& local, bool inherited, std::size_t max_connections,
                          std::string_view bounded_by, std::string_view tls_fingerprint) {
  write(spdlog::level::info, [&](LogLine& line) {
    encoder_->listening(line, local.to_string(), inherited, max_connections, bounded_by,
                        tls_fingerprint);
  });
}

void ServerLog::connected(std::uint64_t conn, std::string_view peer,
                          const PeerIdentity& certificate, std::string_view session) {
  write(spdlog::level::info,
        [&](LogLine& line) { encoder_->connected(line, conn, peer, certificate); });
  if (session.empty()) return;
  write(spdlog::level::debug, [&](LogLine& line) {
    encoder_->note(line, "tls_session", fmt::format("{} tls: {}", peer, session));
  });
}

void ServerLog::message(std::uint64_t conn, std::string_view peer,
                        std::string_view display_payload) {
  write(spdlog::level::info,
        [&](LogLine& line) { encoder_->message(line, conn, peer, display_payload); });
}

void ServerLog::disconnected(std::uint64_t conn, std::string_view peer,
                             std::chrono::steady_clock::duration lifetime, std::uint64_t messages,
                             std::uint64_t bytes_in, CloseReason reason, std::string_view note) {
  write(spdlog::level::info, [&](LogLine& line) {
    encoder_->disconnected(line, {conn, peer, lifetime, messages, bytes_in, reason, note});
  });
}

void ServerLog::reply_dropped(std::uint64_t conn, std::string_view peer, std::uint64_t message,
                              std::string_view why) {
  write(spdlog::level::info,
        [&](LogLine& line) { encoder_->reply_dropped(line, conn, peer, message, why); });
}

void ServerLog::note(spdlog::level::level_enum level, std::string_view event,
                     std::string_view text) {
  write(level, [&](LogLine& line) { encoder_->note(line, event, text); });
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
  bool admitted = false;
  bool summary_now_pending = false;
  {
    LogThrottle& throttle = reject_throttles_[static_cast<std::size_t>(reason)];
    std::lock_guard lock(throttle_mutex_);
    const bool was_pending = throttle.summary_due().has_value();
    admitted = throttle.admit(std::chrono::steady_clock::now(), peer);
    summary_now_pending = !admitted && !was_pending;
  }
  if (!admitted) {
    if (summary_now_pending && wake_) wake_();
    return;
  }
  // The detail may quote what the peer sent (a PROXY header): never raw, never long.
  const std::string safe_detail = escape_for_log(detail, kRejectDetailMax);
  write(spdlog::level::warn,
        [&](LogLine& line) { encoder_->rejected(line, peer, reason, safe_detail); });
}

std::optional<std::chrono::steady_clock::time_point> ServerLog::next_summary_due() {
  std::optional<std::chrono::steady_clock::time_point> next;
  std::lock_guard lock(throttle_mutex_);
  for (const LogThrottle& throttle : reject_throttles_) {
    const auto due = throttle.summary_due();
    if (due && (!next || *due < *next)) next = due;
  }
  return next;
}

void ServerLog::write_due_summaries(std::chrono::steady_clock::time_point now, bool force) {
  std::array<std::optional<LogThrottle::Summary>, static_cast<std::size_t>(RejectReason::kCount)>
      due;
  {
    std::lock_guard lock(throttle_mutex_);
    for (std::size_t i = 0; i < due.size(); ++i) {
      due[i] = reject_throttles_[i].take_summary(now, force);
    }
  }
  for (std::size_t i = 0; i < due.size(); ++i) {
    if (!due[i]) continue;
    write(spdlog::level::warn, [&](LogLine& line) {
      encoder_->rejections_not_logged(line, static_cast<RejectReason>(i), due[i]->count,
                                      due[i]->examples);
    });
  }
}

void ServerLog::wake_when_summary_pending(std::function<void()> wake) {
  wake_ = std::move(wake);
}

void ServerLog::accept_failing(std::error_code error, std::chrono::milliseconds retry_in) {
  std::uint64_t suppressed = 0;
  {
    std::lock_guard lock(throttle_mutex_);
    accept_failing_ = true;
  }
  if (!allow(accept_throttle_, std::chrono::seconds(10), suppressed)) return;
  write(spdlog::level::warn, [&](LogLine& line) {
    encoder_->accept_failing(line, error.message(), retry_in, suppressed);
  });
}

void ServerLog::accept_recovered() {
  {
    std::lock_guard lock(throttle_mutex_);
    if (!std::exchange(accept_failing_, false)) return;
  }
  note(spdlog::level::info, "accept_recovered", "accept recovered");
}

void ServerLog::stats(std::string_view label, const StatsSnapshot& snapshot) {
  write(spdlog::level::info, [&](LogLine& line) { encoder_->stats(line, label, snapshot); });
}

}  // namespace tcp_server
