#include "tcp_server/metrics.hpp"

#include <cmath>
#include <limits>
#include <utility>

namespace tcp_server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr double kMicrosecondsPerSecond = 1e6;

// Label values in the style of Prometheus's own: "peer closed" and "per-ip-limit" become
// peer_closed and per_ip_limit.
std::string label_value(std::string_view text) {
  std::string value(text);
  for (char& c : value) {
    if (c == ' ' || c == '-') c = '_';
  }
  return value;
}

MetricFamily family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

ClientMetric counter(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.counter.value = value;
  return metric;
}

ClientMetric gauge(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return metric;
}

MetricFamily single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily result = family(std::move(name), std::move(help), type);
  result.metric.push_back(type == MetricType::Counter ? counter(value) : gauge(value));
  return result;
}

// One counter per reason, labelled reason="...".
template <typename Reason, std::size_t N>
MetricFamily by_reason(std::string name, std::string help,
                       const std::array<std::uint64_t, N>& counts) {
  MetricFamily result = family(std::move(name), std::move(help), MetricType::Counter);
  for (std::size_t i = 0; i < N; ++i) {
    result.metric.push_back(counter(static_cast<double>(counts[i]),
                                    {{"reason", label_value(to_string(static_cast<Reason>(i)))}}));
  }
  return result;
}

// Cumulative buckets as Prometheus wants them, ending with +Inf; bounds and sum divided by scale
// (microseconds to seconds).
template <std::size_t N>
MetricFamily histogram(std::string name, std::string help, const HistogramCounts<N>& counts,
                       double scale) {
  MetricFamily result = family(std::move(name), std::move(help), MetricType::Histogram);
  ClientMetric metric;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= N; ++i) {
    cumulative += counts.counts[i];
    const double bound = i < N ? static_cast<double>(counts.upper_bounds[i]) / scale
                               : std::numeric_limits<double>::infinity();
    metric.histogram.bucket.push_back({cumulative, bound});
  }
  metric.histogram.sample_count = cumulative;
  metric.histogram.sample_sum = static_cast<double>(counts.sum) / scale;
  result.metric.push_back(std::move(metric));
  return result;
}

double as_double(std::uint64_t value) {
  return static_cast<double>(value);
}

}  // namespace

std::vector<MetricFamily> server_metric_families(const StatsSnapshot& stats,
                                                 const ConnectionCeiling& limit,
                                                 std::string_view version) {
  std::vector<MetricFamily> families;
  families.push_back(single("tcp_server_connections_accepted_total",
                            "Connections accepted from the listening socket", MetricType::Counter,
                            as_double(stats.accepted)));
  families.push_back(single("tcp_server_connections_served_total",
                            "Connections served (admitted) that have since closed",
                            MetricType::Counter, as_double(stats.served)));
  families.push_back(by_reason<RejectReason>("tcp_server_connections_rejected_total",
                                             "Connections refused before being served, by reason",
                                             stats.rejected));
  families.push_back(by_reason<CloseReason>("tcp_server_connections_closed_total",
                                            "Served connections that ended, by reason",
                                            stats.closed));
  families.push_back(single("tcp_server_connections_active", "Connections open now",
                            MetricType::Gauge, as_double(stats.active)));
  families.push_back(single("tcp_server_messages_received_total",
                            "Messages received (lines, or reads in chunk framing)",
                            MetricType::Counter, as_double(stats.messages)));
  families.push_back(single("tcp_server_messages_sent_total",
                            "Replies sent to clients (an ack or an echo each)", MetricType::Counter,
                            as_double(stats.messages_sent)));
  families.push_back(single("tcp_server_received_bytes_total", "Bytes received from clients",
                            MetricType::Counter, as_double(stats.bytes_in)));
  families.push_back(single("tcp_server_sent_bytes_total", "Bytes sent to clients",
                            MetricType::Counter, as_double(stats.bytes_out)));
  families.push_back(histogram("tcp_server_connection_duration_seconds",
                               "How long served connections lasted, observed when they closed",
                               stats.duration_us, kMicrosecondsPerSecond));
  families.push_back(histogram("tcp_server_connection_messages",
                               "Messages each served connection sent, observed when it closed",
                               stats.messages_per_connection, 1.0));
  MetricFamily limit_family =
      family("tcp_server_connection_limit",
             "Most connections served at once, and what sets it (--max-connections or the "
             "tightest system limit)",
             MetricType::Gauge);
  limit_family.metric.push_back(
      gauge(as_double(limit.limit), {{"bounded_by", std::string(limit.bounded_by)}}));
  families.push_back(std::move(limit_family));
  MetricFamily build = family("tcp_server_build_info", "The running build; the value is always 1",
                              MetricType::Gauge);
  build.metric.push_back(gauge(1, {{"version", std::string(version)}}));
  families.push_back(std::move(build));
  return families;
}

std::vector<MetricFamily> process_metric_families(const ProcessStats& process) {
  std::vector<MetricFamily> families;
  families.push_back(single("process_cpu_seconds_total",
                            "Total user and system CPU time spent in seconds", MetricType::Counter,
                            process.cpu_seconds));
  families.push_back(single("process_resident_memory_bytes", "Resident memory size in bytes",
                            MetricType::Gauge, as_double(process.resident_bytes)));
  families.push_back(single("process_virtual_memory_bytes", "Virtual memory size in bytes",
                            MetricType::Gauge, as_double(process.virtual_bytes)));
  families.push_back(single("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds",
                            MetricType::Gauge, process.start_time_seconds));
  families.push_back(single("process_open_fds", "Number of open file descriptors",
                            MetricType::Gauge, as_double(process.open_fds)));
  if (process.max_fds) {
    families.push_back(single("process_max_fds", "Maximum number of open file descriptors",
                              MetricType::Gauge, as_double(*process.max_fds)));
  }
  families.push_back(single("process_threads", "Number of OS threads in the process",
                            MetricType::Gauge, as_double(process.threads)));
  return families;
}

ServerMetrics::ServerMetrics(std::function<StatsSnapshot()> stats, ConnectionCeiling limit,
                             std::string version)
    : stats_(std::move(stats)), limit_(limit), version_(std::move(version)) {}

std::vector<MetricFamily> ServerMetrics::Collect() const {
  std::vector<MetricFamily> families = server_metric_families(stats_(), limit_, version_);
  if (const auto process = read_process_stats()) {
    for (auto& family : process_metric_families(*process)) families.push_back(std::move(family));
  }
  return families;
}

}  // namespace tcp_server
