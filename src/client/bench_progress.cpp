#include "bench_progress.hpp"

#include <fmt/format.h>

#include <ostream>
#include <utility>

#include "bench_report.hpp"

namespace tcp_server::client {

void ProgressReporter::run(std::chrono::steady_clock::time_point start,
                           const std::atomic<bool>& finished) {
  auto next = start + std::chrono::seconds(1);
  std::unique_lock lock(mutex_);
  while (!finished.load()) {
    if (wake_.wait_until(lock, next, [&] { return finished.load(); })) break;
    report(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    next += std::chrono::seconds(1);
  }
}

void ProgressReporter::finish() {
  const std::lock_guard lock(mutex_);
  wake_.notify_all();
}

void ProgressReporter::report(double elapsed) {
  std::uint64_t replies = 0;
  std::uint64_t connections = 0;
  std::uint64_t errors = 0;
  LatencyHistogram latency;
  for (auto& published : published_) {
    const std::lock_guard lock(published->mutex);
    replies += std::exchange(published->replies, 0);
    connections += std::exchange(published->connections, 0);
    errors += std::exchange(published->errors, 0);
    latency.merge(published->latency);
    published->latency.clear();
  }
  errors_ += errors;
  connections_ += connections;
  if (mode_ == BenchMode::kHold) {
    out_ << fmt::format("[{:6.1f} s] {} connections open, errors {}\n", elapsed, connections_,
                        errors_);
  } else {
    out_ << fmt::format("[{:6.1f} s] {} replies/s, p99 {}, errors {}\n", elapsed, replies,
                        format_milliseconds(latency.quantile(0.99)), errors_);
  }
  out_.flush();
}

}  // namespace tcp_server::client
