#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "tcp_server/histogram.hpp"

namespace tcp_server {

// Why a connection was refused before it was served.
enum class RejectReason : std::size_t {
  kConnectionLimit,  // --max-connections reached (overflow reject)
  kPerIpLimit,       // --max-per-ip reached
  kNoThread,         // no thread could be created for it
  kDenied,           // access rules (--allow/--deny)
  kProxyHeader,      // missing, malformed or slow PROXY protocol header
  kTls,              // the TLS handshake failed or did not finish in time (or plaintext)
  kCount
};
std::string_view to_string(RejectReason reason) noexcept;

// Why a served connection ended.
enum class CloseReason : std::size_t {
  kPeerClosed,   // zero-length read
  kIdleTimeout,  // nothing received for --idle-timeout
  kSendTimeout,  // peer did not read our reply for --send-timeout
  kReset,        // reset or broken pipe
  kShutdown,     // the server is stopping
  kError,        // any other socket error
  kMaxLifetime,  // open for --max-lifetime
  kCount
};
std::string_view to_string(CloseReason reason) noexcept;

// Upper bounds of the per-connection histograms, observed once as each served connection closes:
// how long it lasted (in microseconds: 100 us to a day) and how many messages it sent.
inline constexpr std::array<std::uint64_t, 10> kConnectionDurationBoundsUs{
    100,        1'000,      10'000,      100'000,       1'000'000,
    10'000'000, 60'000'000, 600'000'000, 3'600'000'000, 86'400'000'000};
inline constexpr std::array<std::uint64_t, 8> kConnectionMessagesBounds{
    0, 1, 10, 100, 1'000, 10'000, 100'000, 1'000'000};
using DurationHistogramCounts = HistogramCounts<kConnectionDurationBoundsUs.size()>;
using MessagesHistogramCounts = HistogramCounts<kConnectionMessagesBounds.size()>;

// A consistent-enough copy of the counters (each read atomically, not all at one instant).
struct StatsSnapshot {
  std::uint64_t accepted = 0;
  std::uint64_t active = 0;
  std::uint64_t served = 0;         // connections that ended after being served
  std::uint64_t messages = 0;       // received
  std::uint64_t messages_sent = 0;  // replies delivered (an "ok" each, or an echo)
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(RejectReason::kCount)> rejected{};
  std::array<std::uint64_t, static_cast<std::size_t>(CloseReason::kCount)> closed{};
  DurationHistogramCounts duration_us;  // of served connections, when they closed
  MessagesHistogramCounts messages_per_connection;

  [[nodiscard]] std::uint64_t rejected_total() const noexcept;
};

// "active 3, accepted 10, served 7, messages 55, messages sent 55, bytes in 300 out 150,
// rejected 2 (connection-limit 2)". Reasons with a zero count are left out.
std::string format_stats(const StatsSnapshot& stats);

// Live counters, updated with relaxed atomics from every connection thread. Thread safe.
class ServerStats {
 public:
  void on_accepted() noexcept { accepted_.fetch_add(1, kRelaxed); }
  void on_message() noexcept { messages_.fetch_add(1, kRelaxed); }
  void on_bytes_in(std::uint64_t n) noexcept { bytes_in_.fetch_add(n, kRelaxed); }
  void on_bytes_out(std::uint64_t n) noexcept { bytes_out_.fetch_add(n, kRelaxed); }
  // Once per send, with the number of replies it carried (a batch of acks is one send).
  void on_messages_sent(std::uint64_t n) noexcept { messages_sent_.fetch_add(n, kRelaxed); }
  void on_rejected(RejectReason reason) noexcept {
    rejected_[static_cast<std::size_t>(reason)].fetch_add(1, kRelaxed);
  }
  // A served connection ended, lifetime after it was accepted, having sent messages.
  void on_closed(CloseReason reason, std::chrono::nanoseconds lifetime,
                 std::uint64_t messages) noexcept {
    served_.fetch_add(1, kRelaxed);
    closed_[static_cast<std::size_t>(reason)].fetch_add(1, kRelaxed);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(lifetime).count();
    duration_us_.observe(micros > 0 ? static_cast<std::uint64_t>(micros) : 0);
    messages_per_connection_.observe(messages);
  }
  // active is left 0: the registry, not a counter, knows how many connections are live.
  [[nodiscard]] StatsSnapshot snapshot() const noexcept;

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> served_{0};
  std::atomic<std::uint64_t> messages_{0};
  std::atomic<std::uint64_t> bytes_in_{0};
  std::atomic<std::uint64_t> bytes_out_{0};
  std::atomic<std::uint64_t> messages_sent_{0};  // next to bytes_out_: updated together
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(RejectReason::kCount)>
      rejected_{};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(CloseReason::kCount)> closed_{};
  BucketHistogram<kConnectionDurationBoundsUs.size()> duration_us_{kConnectionDurationBoundsUs};
  BucketHistogram<kConnectionMessagesBounds.size()> messages_per_connection_{
      kConnectionMessagesBounds};
};

}  // namespace tcp_server
