// run_bench: the mode chosen once, its loops on threads of their own, the progress line beside
// them, the loops' results merged at the end.
#include "bench.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "bench_loop.hpp"
#include "bench_modes.hpp"
#include "bench_progress.hpp"

namespace tcp_server::client {

void ErrorCounts::add(const ErrorCounts& other_counts) noexcept {
  refused += other_counts.refused;
  reset += other_counts.reset;
  closed += other_counts.closed;
  timeout += other_counts.timeout;
  wrong_reply += other_counts.wrong_reply;
  other += other_counts.other;
  tls += other_counts.tls;
}

std::uint64_t ErrorCounts::total() const noexcept {
  return refused + reset + closed + timeout + wrong_reply + other + tls;
}

namespace {

BenchModeSpec spec_of(const BenchOptions& options) {
  switch (options.mode) {
    case BenchMode::kPingpong:
      return pingpong_mode(options);
    case BenchMode::kChurn:
      return churn_mode(options);
    case BenchMode::kHold:
      return hold_mode(options);
  }
  return pingpong_mode(options);
}

}  // namespace

BenchResult run_bench(const BenchOptions& options, const Endpoint& server, std::ostream* progress) {
  const BenchModeSpec mode = spec_of(options);
  std::ostringstream unused_notes;
  const StreamConnector connector = make_stream_connector(
      options.tls, options.target, progress != nullptr ? *progress : unused_notes);
  const std::size_t total = mode.connections;
  const std::size_t threads =
      std::clamp<std::size_t>(options.threads, 1, std::max<std::size_t>(total, 1));
  std::vector<std::unique_ptr<Published>> published;
  std::vector<std::unique_ptr<BenchLoop>> loops;
  for (std::size_t i = 0; i < threads; ++i) {
    published.push_back(std::make_unique<Published>());
    const std::size_t share = total / threads + (i < total % threads ? 1 : 0);
    loops.push_back(std::make_unique<BenchLoop>(options, server, connector, share, mode.settings,
                                                *published.back()));
  }

  const bool show_progress =
      progress != nullptr && options.progress && mode.length > std::chrono::seconds(3);
  ProgressReporter reporter(progress != nullptr ? *progress : std::cerr, published, options.mode);
  std::atomic<bool> finished{false};
  const auto start = Clock::now();
  std::exception_ptr failure;
  std::mutex failure_mutex;
  {
    std::jthread progress_thread;
    if (show_progress) progress_thread = std::jthread([&] { reporter.run(start, finished); });
    {
      std::vector<std::jthread> running;
      for (auto& loop : loops) {
        running.emplace_back([&loop, run = mode.run, start, &failure, &failure_mutex] {
          try {
            run(*loop, start);
          } catch (...) {
            const std::lock_guard lock(failure_mutex);
            failure = std::current_exception();
          }
        });
      }
    }
    finished = true;
    reporter.finish();
  }
  if (failure) std::rethrow_exception(failure);

  BenchResult result;
  result.server = server.to_string();
  Clock::time_point end = start;
  for (const auto& loop : loops) {
    const BenchResult& part = loop->result();
    result.replies += part.replies;
    result.connections += part.connections;
    result.answered += part.answered;
    result.handshakes += part.handshakes;
    result.resumed += part.resumed;
    if (result.first_tls_error.empty()) result.first_tls_error = part.first_tls_error;
    result.errors.add(part.errors);
    result.latency.merge(part.latency);
    end = std::max(end, loop->measured_until());
  }
  result.seconds = std::chrono::duration<double>(end - start).count();
  return result;
}

}  // namespace tcp_server::client
