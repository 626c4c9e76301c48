#pragma once

#include <chrono>
#include <string>

#include "bench_result.hpp"
#include "client_options.hpp"

namespace tcp_server::client {

// Human summary (a few lines) and one JSON object (one line), both ending in '\n'.
std::string format_summary(const BenchOptions& options, const BenchResult& result);
std::string format_json(const BenchOptions& options, const BenchResult& result);

// "1.234 ms", as the summary and the progress lines show a latency.
std::string format_milliseconds(std::chrono::nanoseconds value);

}  // namespace tcp_server::client
