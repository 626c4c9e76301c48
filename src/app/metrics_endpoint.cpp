#include "metrics_endpoint.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tcp_server/socket.hpp"

namespace tcp_server {
namespace {

// Two threads: a scrape is short, and Prometheus scrapes one target at a time.
constexpr const char* kHttpThreads = "2";
// A peer that connects and sends no request holds one of those threads until this passes
// (civetweb's default is 30 s, longer than Prometheus's default 10 s scrape timeout).
constexpr const char* kRequestTimeoutMs = "5000";
// How often the destructor nudges civetweb's accept thread while it stops.
constexpr std::chrono::milliseconds kNudgeInterval{20};

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

MetricsEndpoint::~MetricsEndpoint() {
  // civetweb's mg_stop() waits for its accept thread, which looks at the stop flag only when its
  // poll() returns: up to 2 s later (SOCKET_TIMEOUT_QUANTUM) on an idle port, added to every
  // shutdown. A connection, closed at once, makes that poll() return now; one made just before
  // the flag is set is not enough, hence a connection every kNudgeInterval until the stop is done.
  Endpoint wake = local_;
  if (wake.is_v4() && wake.ip_string() == "0.0.0.0") {
    wake = *Endpoint::from_ip("127.0.0.1", local_.port());
  }
  std::mutex mutex;
  std::condition_variable stopped_changed;
  bool stopped = false;
  const auto nudge = [&] {
    std::unique_lock lock(mutex);
    while (!stopped) {
      lock.unlock();
      std::error_code error;
      (void)connect_to(wake, kNudgeInterval, error);  // closed again at once
      lock.lock();
      stopped_changed.wait_for(lock, kNudgeInterval, [&] { return stopped; });
    }
  };
  std::thread nudger;
  try {
    nudger = std::thread(nudge);
  } catch (const std::system_error&) {
    // No thread to be had: the stop just takes its 2 s.
  }
  exposer_.reset();
  {
    const std::lock_guard lock(mutex);
    stopped = true;
  }
  stopped_changed.notify_one();
  if (nudger.joinable()) nudger.join();
}

}  // namespace tcp_server
