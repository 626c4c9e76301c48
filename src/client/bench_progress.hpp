#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <vector>

#include "client_options.hpp"
#include "latency_histogram.hpp"

namespace tcp_server::client {

// What an event loop shows the progress reporter: figures since the last look. The loop adds
// under the mutex every sweep; the reporter takes and clears under it once a second.
struct Published {
  std::mutex mutex;
  std::uint64_t replies = 0;
  std::uint64_t connections = 0;
  std::uint64_t errors = 0;
  LatencyHistogram latency;
};

// Wakes once a second while the loops run and prints what they published since: replies/s,
// p99 and errors (hold: connections open and errors). run() on its own thread; finish() from
// another once the loops are done.
class ProgressReporter {
 public:
  ProgressReporter(std::ostream& out, std::vector<std::unique_ptr<Published>>& published,
                   BenchMode mode)
      : out_(out), published_(published), mode_(mode) {}

  void run(std::chrono::steady_clock::time_point start, const std::atomic<bool>& finished);
  void finish();

 private:
  void report(double elapsed);

  std::ostream& out_;
  std::vector<std::unique_ptr<Published>>& published_;
  BenchMode mode_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::uint64_t errors_ = 0;
  std::uint64_t connections_ = 0;
};

}  // namespace tcp_server::client
