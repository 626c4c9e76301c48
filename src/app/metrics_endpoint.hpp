#pragma once

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <memory>

#include "tcp_server/endpoint.hpp"

namespace tcp_server {

// --metrics-listen: an HTTP server (prometheus-cpp's pull Exposer, on civetweb's threads) that
// answers GET /metrics with what the collectable reports at that moment. Serves from
// construction until destruction; the destructor stops the HTTP threads before the collectable
// goes, so a scrape never outlives what it reads.
class MetricsEndpoint {
 public:
  // Throws std::runtime_error naming the address when it cannot listen there.
  MetricsEndpoint(const Endpoint& listen, std::shared_ptr<prometheus::Collectable> metrics);
  // Returns within milliseconds (see the .cpp for why that takes a nudge).
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // The bound address, with the system's port when listen asked for port 0.
  [[nodiscard]] Endpoint local_endpoint() const { return local_; }

 private:
  std::shared_ptr<prometheus::Collectable> metrics_;  // declared first: outlives exposer_
  std::unique_ptr<prometheus::Exposer> exposer_;
  Endpoint local_;
};

}  // namespace tcp_server
