#include "bench_modes.hpp"

namespace tcp_server::client {
namespace {

// Request/reply on persistent connections: each keeps --pipeline requests in flight and sends
// one more for every reply, until the deadline.
class Pingpong {
 public:
  explicit Pingpong(BenchLoop& loop) : loop_(loop), pipeline_(loop.options().pipeline) {}

  void on_connected(BenchConnection& connection) { loop_.queue_messages(connection, pipeline_); }

  void on_replies(BenchConnection& connection, std::size_t count, Clock::time_point now) {
    if (now < loop_.deadline()) loop_.queue_messages(connection, count);
  }

 private:
  BenchLoop& loop_;
  std::size_t pipeline_;
};

void run_pingpong(BenchLoop& loop, Clock::time_point start) {
  Pingpong mode(loop);
  run_for_duration(loop, mode, start);
}

}  // namespace

BenchModeSpec pingpong_mode(const BenchOptions& options) {
  return {
      .connections = options.connections,
      .settings = {.in_flight = options.pipeline, .latency_from_connect = false, .reconnect = true},
      .length = options.duration,
      .run = run_pingpong};
}

}  // namespace tcp_server::client
