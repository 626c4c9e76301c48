#pragma once

// The three bench modes as the driver (run_bench) sees them; each is defined in a file of its
// own, which holds everything mode-specific the event loop does not.

#include <chrono>
#include <cstddef>

#include "bench_loop.hpp"
#include "client_options.hpp"

namespace tcp_server::client {

struct BenchModeSpec {
  std::size_t connections = 0;  // shared out among the loops
  BenchLoopSettings settings;
  std::chrono::milliseconds length{0};  // how long a run lasts, roughly: progress lines past 3 s
  // Runs one loop from start to its end (then loop.finish()), on the loop's own thread.
  void (*run)(BenchLoop& loop, Clock::time_point start) = nullptr;
};

BenchModeSpec pingpong_mode(const BenchOptions& options);  // bench_pingpong.cpp
BenchModeSpec churn_mode(const BenchOptions& options);     // bench_churn.cpp
BenchModeSpec hold_mode(const BenchOptions& options);      // bench_hold.cpp

// pingpong and churn: connect every connection at once and run until options.duration is over.
template <BenchModeHooks Mode>
void run_for_duration(BenchLoop& loop, Mode& mode, Clock::time_point start) {
  const auto deadline = start + loop.options().duration;
  loop.set_deadline(deadline);
  for (auto& connection : loop.connections()) loop.start_connect(connection);
  loop.run_until(mode, deadline, [] { return false; });
  loop.finish(deadline);
}

}  // namespace tcp_server::client
