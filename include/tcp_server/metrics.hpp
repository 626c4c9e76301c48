#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcp_server/connection_limit.hpp"
#include "tcp_server/process_stats.hpp"
#include "tcp_server/stats.hpp"

namespace tcp_server {

// The server's counters as Prometheus metric families (tcp_server_*): connections accepted,
// served, rejected and closed by reason, active, messages and bytes, the two per-connection
// histograms, the connection limit with what bounds it, and build info. Every reason is listed,
// zero or not, so that rate() sees a series from the start. Pure.
std::vector<prometheus::MetricFamily> server_metric_families(const StatsSnapshot& stats,
                                                             const ConnectionCeiling& limit,
                                                             std::string_view version);

// The standard process_* families (as every Prometheus client library names them). Pure.
std::vector<prometheus::MetricFamily> process_metric_families(const ProcessStats& process);

// A Prometheus collectable: at each scrape, the server's counters (read through stats(), which
// must be thread safe: scrapes come from the HTTP server's threads) and this process's
// /proc figures. Nothing is counted per message on its behalf.
class ServerMetrics final : public prometheus::Collectable {
 public:
  ServerMetrics(std::function<StatsSnapshot()> stats, ConnectionCeiling limit, std::string version);
  [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<StatsSnapshot()> stats_;
  ConnectionCeiling limit_;
  std::string version_;
};

}  // namespace tcp_server
