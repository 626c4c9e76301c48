#include "tcp_server/stats.hpp"

#include <fmt/format.h>

namespace tcp_server {

std::string_view to_string(RejectReason reason) noexcept {
  switch (reason) {
    case RejectReason::kConnectionLimit:
      return "connection-limit";
    case RejectReason::kPerIpLimit:
      return "per-ip-limit";
    case RejectReason::kNoThread:
      return "no-thread";
    case RejectReason::kDenied:
      return "denied";
    case RejectReason::kProxyHeader:
      return "proxy-header";
    case RejectReason::kTls:
      return "tls";
    case RejectReason::kCount:
      break;
  }
  return "unknown";
}

std::string_view to_string(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::kPeerClosed:
      return "peer closed";
    case CloseReason::kIdleTimeout:
      return "idle timeout";
    case CloseReason::kSendTimeout:
      return "send timeout";
    case CloseReason::kReset:
      return "reset";
    case CloseReason::kShutdown:
      return "shutdown";
    case CloseReason::kError:
      return "error";
    case CloseReason::kMaxLifetime:
      return "max lifetime";
    case CloseReason::kCount:
      break;
  }
  return "unknown";
}

std::uint64_t StatsSnapshot::rejected_total() const noexcept {
  std::uint64_t total = 0;
  for (const auto count : rejected) total += count;
  return total;
}

std::string format_stats(const StatsSnapshot& stats) {
  std::string text = fmt::format(
      "active {}, accepted {}, served {}, messages {}, messages sent {}, bytes in {} "
      "out {}, rejected {}",
      stats.active, stats.accepted, stats.served, stats.messages, stats.messages_sent,
      stats.bytes_in, stats.bytes_out, stats.rejected_total());
  std::string reasons;
  for (std::size_t i = 0; i < stats.rejected.size(); ++i) {
    if (stats.rejected[i] == 0) continue;
    if (!reasons.empty()) reasons += ", ";
    reasons += fmt::format("{} {}", to_string(static_cast<RejectReason>(i)), stats.rejected[i]);
  }
  if (!reasons.empty()) text += " (" + reasons + ")";
  return text;
}

StatsSnapshot ServerStats::snapshot() const noexcept {
  StatsSnapshot result;
  result.accepted = accepted_.load(kRelaxed);
  result.served = served_.load(kRelaxed);
  result.messages = messages_.load(kRelaxed);
  result.bytes_in = bytes_in_.load(kRelaxed);
  result.bytes_out = bytes_out_.load(kRelaxed);
  result.messages_sent = messages_sent_.load(kRelaxed);
  for (std::size_t i = 0; i < result.rejected.size(); ++i) {
    result.rejected[i] = rejected_[i].load(kRelaxed);
  }
  for (std::size_t i = 0; i < result.closed.size(); ++i)
    result.closed[i] = closed_[i].load(kRelaxed);
  result.duration_us = duration_us_.snapshot();
  result.messages_per_connection = messages_per_connection_.snapshot();
  return result;
}

}  // namespace tcp_server
