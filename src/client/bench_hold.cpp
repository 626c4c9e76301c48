#include "bench_modes.hpp"

namespace tcp_server::client {
namespace {

// Connects in flight per loop: more would only overflow the server's backlog and cost SYN
// retransmits.
constexpr std::size_t kMaxConnecting = 256;

// Open every connection (a bounded number at a time), keep them idle for --hold-time, then
// check that each still answers. A connection that fails stays down: it is not reconnected.
class Hold {
 public:
  explicit Hold(BenchLoop& loop) : loop_(loop) {}

  void on_connected(BenchConnection& /*connection*/) { loop_.count_connection(); }

  void on_replies(BenchConnection& /*connection*/, std::size_t count, Clock::time_point /*now*/) {
    loop_.result().answered += count;
  }

 private:
  BenchLoop& loop_;
};

void run_hold(BenchLoop& loop, Clock::time_point /*start*/) {
  Hold mode(loop);
  auto& connections = loop.connections();
  std::size_t next = 0;
  const auto connect_more = [&] {
    while (next < connections.size() && loop.connecting() < kMaxConnecting) {
      loop.start_connect(connections[next++]);
    }
  };
  connect_more();
  loop.run_until(mode, Clock::time_point::max(), [&] {
    connect_more();
    return next == connections.size() && loop.connecting() == 0;
  });
  const auto hold_until = Clock::now() + loop.options().hold_time;
  loop.run_until(mode, hold_until, [] { return false; });
  for (auto& connection : connections) {
    if (connection.state == BenchConnection::State::kOpen) loop.queue_messages(connection, 1);
  }
  const auto answer_by = Clock::now() + loop.options().timeout + kSweepInterval * 2;
  loop.run_until(mode, answer_by, [&] { return loop.replies_due() == 0; });
  loop.finish(Clock::now());
}

}  // namespace

BenchModeSpec hold_mode(const BenchOptions& options) {
  return {.connections = options.connections,
          .settings = {.in_flight = 1, .latency_from_connect = false, .reconnect = false},
          .length = options.hold_time,
          .run = run_hold};
}

}  // namespace tcp_server::client
