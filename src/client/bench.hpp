#pragma once

#include <iosfwd>

#include "bench_report.hpp"
#include "bench_result.hpp"
#include "client_options.hpp"
#include "tcp_server/endpoint.hpp"

namespace tcp_server::client {

// Drives the load with options.threads event loops (epoll, non-blocking sockets), each owning
// a share of the connections. Bounded: pingpong and churn stop at options.duration; hold takes
// at most the connect phase, options.hold_time, and one reply timeout. When progress is not
// null and the run is longer than 3 s, a line per second goes there.
BenchResult run_bench(const BenchOptions& options, const Endpoint& server, std::ostream* progress);

}  // namespace tcp_server::client
