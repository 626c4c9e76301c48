#pragma once

#include <cstdint>
#include <string>

#include "latency_histogram.hpp"

namespace tcp_server::client {

// Failures are counted by kind; none stops a run.
struct ErrorCounts {
  std::uint64_t refused = 0;      // connect: ECONNREFUSED
  std::uint64_t reset = 0;        // ECONNRESET / EPIPE
  std::uint64_t closed = 0;       // the server closed while a reply was due (or while held)
  std::uint64_t timeout = 0;      // no connect or no reply within --timeout
  std::uint64_t wrong_reply = 0;  // bytes that are not --expect
  std::uint64_t other = 0;        // any other socket error (e.g. EADDRNOTAVAIL, EMFILE)
  std::uint64_t tls = 0;          // a TLS handshake or record refused (not a socket error)

  void add(const ErrorCounts& other_counts) noexcept;
  [[nodiscard]] std::uint64_t total() const noexcept;
};

struct BenchResult {
  std::string server;             // "127.0.0.1:9090"
  double seconds = 0;             // measured interval
  std::uint64_t replies = 0;      // correct replies within the interval
  std::uint64_t connections = 0;  // connections completed (churn) or opened (hold)
  std::uint64_t answered = 0;     // hold: connections that answered after the idle period
  std::uint64_t handshakes = 0;   // TLS handshakes completed within the interval
  std::uint64_t resumed = 0;      // of those, resumptions of an earlier session
  std::string first_tls_error;    // what the first TLS failure said, for the report
  ErrorCounts errors;
  LatencyHistogram latency;  // send to reply (churn: connect to reply)
};

}  // namespace tcp_server::client
