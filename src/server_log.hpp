#pragma once

#include <spdlog/logger.h>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "tcp_server/byte_stream.hpp"
#include "tcp_server/endpoint.hpp"
#include "tcp_server/log_encoder.hpp"
#include "tcp_server/log_format.hpp"
#include "tcp_server/log_throttle.hpp"
#include "tcp_server/stats.hpp"

namespace tcp_server {

// The server's log events: each is encoded by the LogEncoder chosen at start (text or JSON: the
// wording lives there) and written to the injected logger at its level; rejections and accept
// failures go through throttles first. conn is the connection's number (1, 2, ... in accept
// order). Thread safe.
class ServerLog {
 public:
  // hex_payloads: --log-hex (see make_log_encoder).
  explicit ServerLog(std::shared_ptr<spdlog::logger> logger, LogFormat format = LogFormat::kText,
                     bool hex_payloads = false);

  // bounded_by: what limit the derived max_connections comes from ("kernel.pid_max", ...);
  // empty when --max-connections set it.
  // tls_fingerprint: see LogEncoder::listening.
  void listening(const Endpoint& local, bool inherited, std::size_t max_connections,
                 std::string_view bounded_by, std::string_view tls_fingerprint = {});
  // certificate: what the client's certificate says (TLS); session: a line about its session
  // (TLS version, cipher, SNI, ALPN), logged at debug level when not empty.
  void connected(std::uint64_t conn, std::string_view peer, const PeerIdentity& certificate = {},
                 std::string_view session = {});
  void message(std::uint64_t conn, std::string_view peer, std::string_view display_payload);
  void disconnected(std::uint64_t conn, std::string_view peer,
                    std::chrono::steady_clock::duration lifetime, std::uint64_t messages,
                    std::uint64_t bytes_in, CloseReason reason, std::string_view note);
  void reply_dropped(std::uint64_t conn, std::string_view peer, std::uint64_t message,
                     std::string_view why);
  // Per reason, a burst of 100 lines, then 20 a second (LogThrottle); the rest are counted and
  // summed up in one line per reason once they stop (write_due_summaries). detail may quote
  // peer bytes: it is escaped here.
  void rejected(std::string_view peer, RejectReason reason, std::string_view detail);
  // When the next summary of rejections not logged is due; empty when none is pending.
  [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> next_summary_due();
  // Writes the summaries due at now; with force, every pending one (at shutdown).
  void write_due_summaries(std::chrono::steady_clock::time_point now, bool force = false);
  // Called (from the thread that logged the rejection) when a summary becomes pending, so the
  // owner of the loop that calls write_due_summaries can wake it. Set before any thread logs.
  void wake_when_summary_pending(std::function<void()> wake);
  // At most one line per ten seconds, with the count of failures since the last line.
  void accept_failing(std::error_code error, std::chrono::milliseconds retry_in);
  void accept_recovered();
  void stats(std::string_view label, const StatsSnapshot& snapshot);
  // Server-wide events without fields of their own ("stopping", "drain_deadline", "error").
  void note(spdlog::level::level_enum level, std::string_view event, std::string_view text);

 private:
  struct Throttle {
    std::chrono::steady_clock::time_point next_allowed{};
    std::uint64_t suppressed = 0;
  };
  // True when a line may be written now; suppressed receives the count skipped before it.
  bool allow(Throttle& throttle, std::chrono::steady_clock::duration interval,
             std::uint64_t& suppressed);

  // Encodes a line (encode(LogLine&)) and logs it, unless the level is off.
  template <typename Encode>
  void write(spdlog::level::level_enum level, Encode encode);

  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<LogEncoder> encoder_;
  std::mutex throttle_mutex_;
  std::array<LogThrottle, static_cast<std::size_t>(RejectReason::kCount)> reject_throttles_{};
  std::function<void()> wake_;
  Throttle accept_throttle_;
  bool accept_failing_ = false;
};

}  // namespace tcp_server
