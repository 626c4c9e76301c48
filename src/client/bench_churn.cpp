#include "bench_modes.hpp"

namespace tcp_server::client {
namespace {

// Connect, one request, close, repeat: --concurrency connections in that cycle at once. A
// connection counts when its reply arrives, and its latency runs from the connect.
class Churn {
 public:
  explicit Churn(BenchLoop& loop) : loop_(loop) {}

  void on_connected(BenchConnection& connection) { loop_.queue_messages(connection, 1); }

  void on_replies(BenchConnection& connection, std::size_t /*count*/, Clock::time_point now) {
    if (now <= loop_.deadline()) loop_.count_connection();
    loop_.hang_up(connection);
    if (now < loop_.deadline()) loop_.start_connect(connection);
  }

 private:
  BenchLoop& loop_;
};

void run_churn(BenchLoop& loop, Clock::time_point start) {
  Churn mode(loop);
  run_for_duration(loop, mode, start);
}

}  // namespace

BenchModeSpec churn_mode(const BenchOptions& options) {
  return {.connections = options.concurrency,
          .settings = {.in_flight = 1, .latency_from_connect = true, .reconnect = true},
          .length = options.duration,
          .run = run_churn};
}

}  // namespace tcp_server::client
