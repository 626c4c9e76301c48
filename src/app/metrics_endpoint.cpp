#include "metrics_endpoint.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace tcp_server {
namespace {

// Two threads: a scrape is short, and Prometheus scrapes one target at a time.
constexpr const char* kHttpThreads = "2";
// A peer that connects and sends no request holds one of those threads until this passes
// (civetweb's default is 30 s, longer than Prometheus's default 10 s scrape timeout).
constexpr const char* kRequestTimeoutMs = "5000";

}  // namespace

MetricsEndpoint::MetricsEndpoint(const Endpoint& listen,
                                 std::shared_ptr<prometheus::Collectable> metrics)
    : metrics_(std::move(metrics)), local_(listen) {
  // civetweb's own option names; "listening_ports" takes "1.2.3.4:9100" (Debian builds it
  // without IPv6, hence the CLI's check).
  const std::vector<std::string> options{"listening_ports",    listen.to_string(),
                                         "num_threads",        kHttpThreads,
                                         "request_timeout_ms", kRequestTimeoutMs};
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(options);
  } catch (const std::exception&) {
    // civetweb says only "null context when constructing CivetServer. Possible problem binding
    // to port."; the address says which.
    throw std::runtime_error("cannot listen on " + listen.to_string() +
                             " for --metrics-listen (address in use or not local?)");
  }
  exposer_->RegisterCollectable(metrics_);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  if (!ports.empty()) local_.set_port(static_cast<std::uint16_t>(ports.front()));
}

}  // namespace tcp_server
