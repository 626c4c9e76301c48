#include "server_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace tcp_server {

ServerLog::ServerLog(std::shared_ptr<spdlog::logger> logger, LogFormat format)
    : logger_(std::move(logger)), format_(format) {}

// Integer arithmetic rather than fmt's floating-point formatting: every client thread formats
// one duration when it disconnects, and fmt's float path is deep enough to touch another stack
// page per thread (about 4 KiB of RSS each for 10,000 threads closing at once).
std::string format_duration(std::chrono::steady_clock::duration duration) {
  using std::chrono::milliseconds;
  const auto ms =
      std::max<std::int64_t>(std::chrono::duration_cast<milliseconds>(duration).count(), 0);
  if (ms < 1000) return fmt::format("0.{:03} s", ms);
  if (ms < 100'000) return fmt::format("{}.{} s", (ms + 50) / 1000, (ms + 50) % 1000 / 100);
  return fmt::format("{} s", (ms + 500) / 1000);
}

namespace {

// Bytes of a rejection's detail shown in its line.
constexpr std::size_t kRejectDetailMax = 200;

// Seconds with three decimals, for JSON, without floating point (see format_duration).
std::string json_seconds(std::chrono::steady_clock::duration duration) {
  const auto ms = std::max<std::int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(duration).count(), 0);
  return fmt::format("{}.{:03}", ms / 1000, ms % 1000);
}

}  // namespace

void ServerLog::listening(const Endpoint& local, bool inherited, std::size_t max_connections,
                          std::string_view bounded_by) {
  if (json()) {
    logger_->info(
        R"("event":"listening","address":{},"inherited":{},"max_connections":{},"bounded_by":{})",
        json_quote(local.to_string()), inherited, max_connections,
        json_quote(bounded_by.empty() ? "--max-connections" : bounded_by));
  } else {
    logger_->info("listening on {}{} (max {} connections{}{})", local.to_string(),
                  inherited ? " (inherited socket)" : "", max_connections,
                  bounded_by.empty() ? "" : ", bounded by ", bounded_by);
  }
  logger_->flush();
}

void ServerLog::connected(std::uint64_t conn, std::string_view peer) {
  if (json()) {
    logger_->info(R"("event":"connected","conn":{},"peer":{})", conn, json_quote(peer));
  } else {
    logger_->info("{} connected", peer);
  }
}

void ServerLog::message(std::uint64_t conn, std::string_view peer,
                        std::string_view display_payload) {
  if (json()) {
    logger_->info(R"("event":"message","conn":{},"peer":{},"payload":{})", conn, json_quote(peer),
                  json_quote(display_payload));
  } else {
    logger_->info("{} {}", peer, display_payload);
  }
}

void ServerLog::disconnected(std::uint64_t conn, std::string_view peer,
                             std::chrono::steady_clock::duration lifetime, std::uint64_t messages,
                             std::uint64_t bytes_in, CloseReason reason, std::string_view note) {
  if (json()) {
    logger_->info(R"("event":"disconnected","conn":{},"peer":{},"duration_s":{},"messages":{},)"
                  R"("bytes_in":{},"reason":{},"note":{})",
                  conn, json_quote(peer), json_seconds(lifetime), messages, bytes_in,
                  json_quote(to_string(reason)), json_quote(note));
    return;
  }
  logger_->info("{} disconnected after {}, {} message{}, {} bytes in ({}{}{})", peer,
                format_duration(lifetime), messages, messages == 1 ? "" : "s", bytes_in,
                to_string(reason), note.empty() ? "" : ": ", note);
}

void ServerLog::note(spdlog::level::level_enum level, std::string_view event,
                     std::string_view text) {
  if (json()) {
    logger_->log(level, R"("event":{},"message":{})", json_quote(event), json_quote(text));
  } else {
    logger_->log(level, "{}", text);
  }
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
  if (json()) {
    logger_->warn(R"("event":"rejected","peer":{},"reason":{},"detail":{})", json_quote(peer),
                  json_quote(to_string(reason)), json_quote(safe_detail));
    return;
  }
  logger_->warn("{} rejected: {} ({})", peer, to_string(reason), safe_detail);
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
    const auto reason = to_string(static_cast<RejectReason>(i));
    const LogThrottle::Summary& summary = *due[i];
    if (json()) {
      std::string examples;
      for (const auto& example : summary.examples) {
        examples += (examples.empty() ? "" : ",") + json_quote(example);
      }
      logger_->warn(R"("event":"rejected_suppressed","reason":{},"count":{},"examples":[{}])",
                    json_quote(reason), summary.count, examples);
      continue;
    }
    std::string examples;
    for (const auto& example : summary.examples) {
      examples += (examples.empty() ? "" : ", ") + example;
    }
    if (summary.count > summary.examples.size()) examples += ", ...";
    logger_->warn("rejected: {}: {} more not logged (e.g. {})", reason, summary.count, examples);
  }
}

void ServerLog::wake_when_summary_pending(std::function<void()> wake) {
  wake_ = std::move(wake);
}

void ServerLog::accept_failing(int error, std::chrono::milliseconds retry_in) {
  std::uint64_t suppressed = 0;
  {
    std::lock_guard lock(throttle_mutex_);
    accept_failing_ = true;
  }
  if (!allow(accept_throttle_, std::chrono::seconds(10), suppressed)) return;
  if (json()) {
    logger_->warn(R"("event":"accept_failing","error":{},"retry_ms":{},"suppressed":{})",
                  json_quote(std::strerror(error)), retry_in.count(), suppressed);
    return;
  }
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
  note(spdlog::level::info, "accept_recovered", "accept recovered");
}

void ServerLog::stats(std::string_view label, const StatsSnapshot& snapshot) {
  if (json()) {
    std::string rejected;
    for (std::size_t i = 0; i < snapshot.rejected.size(); ++i) {
      rejected +=
          fmt::format(R"({}{}:{})", i == 0 ? "" : ",",
                      json_quote(to_string(static_cast<RejectReason>(i))), snapshot.rejected[i]);
    }
    logger_->info(
        R"("event":"stats","label":{},"active":{},"accepted":{},"served":{},"messages":{},)"
        R"("bytes_in":{},"bytes_out":{},"rejected":{{{}}})",
        json_quote(label), snapshot.active, snapshot.accepted, snapshot.served, snapshot.messages,
        snapshot.bytes_in, snapshot.bytes_out, rejected);
    logger_->flush();
    return;
  }
  logger_->info("{}: {}", label, format_stats(snapshot));
  logger_->flush();
}

}  // namespace tcp_server
