#pragma once

// The event loop every bench mode runs on: epoll, non-blocking sockets, one request ring per
// connection, replies checked byte by byte, timeouts swept, figures published for the progress
// line. What a mode does when a connect completes or replies arrive is the mode's (one file
// each: bench_pingpong.cpp, bench_churn.cpp, bench_hold.cpp); run_until() calls it directly,
// without a virtual call, because it is a template over the mode.

#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench_progress.hpp"
#include "bench_result.hpp"
#include "client_options.hpp"
#include "client_stream.hpp"
#include "tcp_server/endpoint.hpp"
#include "tcp_server/unique_fd.hpp"
#include "tls_client.hpp"

namespace tcp_server::client {

using Clock = std::chrono::steady_clock;

// How often a loop looks for timed-out connections and publishes its figures.
inline constexpr std::chrono::milliseconds kSweepInterval{50};

enum class ErrorKind { kRefused, kReset, kClosed, kTimeout, kWrongReply, kOther, kTls };

struct BenchConnection {
  // kConnecting: TCP connect in progress; kHandshaking: TLS handshake in progress.
  enum class State { kIdle, kConnecting, kHandshaking, kOpen, kDone };
  std::unique_ptr<ClientStream> stream;  // null unless connecting, handshaking or open
  State state = State::kIdle;
  Clock::time_point started;               // when the connect began
  Clock::time_point retry_at;              // kIdle: when to connect again
  std::vector<Clock::time_point> sent_at;  // ring of send times, one per reply due
  std::size_t ring_head = 0;
  std::size_t outstanding = 0;
  std::size_t matched = 0;  // bytes of the reply being received that matched so far
  std::string unsent;       // bytes send() has not taken yet
  bool watching_writable = false;
  bool read_wants_write = false;  // TLS: a read needs the socket writable first
};

// What differs between the modes inside the loop itself.
struct BenchLoopSettings {
  std::size_t in_flight = 1;          // most requests a connection has outstanding
  bool latency_from_connect = false;  // churn: connect to reply; the others: send to reply
  bool reconnect = true;  // a failed or idle connection connects again (hold paces its own)
};

// What a mode supplies: on_connected once a connection's connect completed (it is open and
// read-watched); on_replies when `count` expected replies completed in one read at `now`.
template <class Mode>
concept BenchModeHooks = requires(Mode& mode, BenchConnection& connection, std::size_t count,
                                  Clock::time_point now) {
  mode.on_connected(connection);
  mode.on_replies(connection, count, now);
};

// One event loop driving a share of the connections. Used from one thread only.
class BenchLoop {
 public:
  BenchLoop(const BenchOptions& options, const Endpoint& server, const StreamConnector& connector,
            std::size_t slots, const BenchLoopSettings& settings, Published& published);

  // Runs the loop until `until` passes or done() holds.
  template <BenchModeHooks Mode, std::predicate Done>
  void run_until(Mode& mode, Clock::time_point until, Done done);

  void start_connect(BenchConnection& connection);
  // Sends options.message how_many times, a send time each in the ring.
  void queue_messages(BenchConnection& connection, std::size_t how_many);
  // Closes an open connection that owes nothing; it stays idle until connected again.
  void hang_up(BenchConnection& connection);
  // A connection completed (churn) or opened (hold), counted in the result and the progress.
  void count_connection();
  // Closes every connection and publishes the last figures; the run ends at measured_until.
  void finish(Clock::time_point measured_until);

  // Replies before the deadline count; connections and errors after it do not.
  void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }
  [[nodiscard]] Clock::time_point deadline() const { return deadline_; }
  [[nodiscard]] const BenchOptions& options() const { return options_; }
  [[nodiscard]] std::vector<BenchConnection>& connections() { return connections_; }
  // Connections not open yet: TCP connect or TLS handshake in progress.
  [[nodiscard]] std::size_t connecting() const { return connecting_; }
  [[nodiscard]] std::size_t replies_due() const { return replies_due_; }
  [[nodiscard]] BenchResult& result() { return result_; }
  [[nodiscard]] const BenchResult& result() const { return result_; }
  [[nodiscard]] Clock::time_point measured_until() const { return measured_until_; }

 private:
  struct Outcome {
    enum class Kind { kNothing, kConnected, kReplies };
    Kind kind = Kind::kNothing;
    std::size_t replies = 0;
    Clock::time_point at;
  };

  // epoll_wait for at most `timeout` (rounded up); the number of events_ filled.
  std::size_t wait(Clock::duration timeout);
  Outcome handle(BenchConnection& connection, std::uint32_t events);
  Outcome continue_handshake(BenchConnection& connection);
  bool flush(BenchConnection& connection);
  Outcome on_readable(BenchConnection& connection);
  void fail(BenchConnection& connection, ErrorKind kind);
  void fail(BenchConnection& connection, const IoResult& failure);
  void watch(BenchConnection& connection, int operation, std::uint32_t events);
  void sweep(Clock::time_point now);
  void publish();

  const BenchOptions& options_;
  const Endpoint& server_;
  const StreamConnector& connector_;
  TlsSessionStore sessions_;  // --tls-resume: this loop's connections resume the last session
  const BenchLoopSettings settings_;
  std::vector<BenchConnection> connections_;
  Published& published_;
  UniqueFd epoll_;
  std::array<epoll_event, 256> events_{};
  std::array<char, 64 * 1024> buffer_{};
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point measured_until_;
  std::size_t connecting_ = 0;
  std::size_t replies_due_ = 0;  // the sum of every connection's outstanding
  BenchResult result_;
  LatencyHistogram interval_latency_;
  std::uint64_t unpublished_replies_ = 0;
  std::uint64_t unpublished_connections_ = 0;
  std::uint64_t unpublished_errors_ = 0;
};

template <BenchModeHooks Mode, std::predicate Done>
void BenchLoop::run_until(Mode& mode, Clock::time_point until, Done done) {
  auto next_sweep = Clock::now() + kSweepInterval;
  while (!done()) {
    const auto now = Clock::now();
    if (now >= until) return;
    if (now >= next_sweep) {
      sweep(now);
      publish();
      next_sweep = now + kSweepInterval;
      continue;
    }
    const std::size_t ready = wait(std::min(next_sweep, until) - now);
    for (std::size_t i = 0; i < ready; ++i) {
      BenchConnection& connection = *static_cast<BenchConnection*>(events_[i].data.ptr);
      const Outcome outcome = handle(connection, events_[i].events);
      switch (outcome.kind) {
        case Outcome::Kind::kNothing:
          break;
        case Outcome::Kind::kConnected:
          mode.on_connected(connection);
          break;
        case Outcome::Kind::kReplies:
          mode.on_replies(connection, outcome.replies, outcome.at);
          break;
      }
    }
  }
}

}  // namespace tcp_server::client
