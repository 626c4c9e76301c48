// The Prometheus side of the counters: histograms, metric families, /proc parsing, the
// --metrics-listen address and option.
#include "tcp_server/metrics.hpp"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "cli.hpp"
#include "tcp_server/histogram.hpp"
#include "tcp_server/listen_address.hpp"
#include "tcp_server/process_stats.hpp"

namespace tcp_server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using namespace std::chrono_literals;

const MetricFamily& find_family(const std::vector<MetricFamily>& families,
                                const std::string& name) {
  const auto it = std::find_if(families.begin(), families.end(),
                               [&](const MetricFamily& family) { return family.name == name; });
  if (it == families.end()) throw std::runtime_error("no family " + name);
  return *it;
}

// The metric of family whose label name has value.
const ClientMetric& with_label(const MetricFamily& family, const std::string& name,
                               const std::string& value) {
  for (const auto& metric : family.metric) {
    for (const auto& label : metric.label) {
      if (label.name == name && label.value == value) return metric;
    }
  }
  throw std::runtime_error("no " + name + "=" + value + " in " + family.name);
}

std::string serialized(const std::vector<MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

TEST(BucketHistogram, CountsEachValueInTheFirstBucketWhoseBoundHoldsIt) {
  BucketHistogram<3> histogram({1, 10, 100});
  for (const std::uint64_t value : {0, 1, 2, 10, 11, 100, 101, 5000}) histogram.observe(value);
  const auto counts = histogram.snapshot();
  EXPECT_EQ(counts.upper_bounds, (std::array<std::uint64_t, 3>{1, 10, 100}));
  EXPECT_EQ(counts.counts, (std::array<std::uint64_t, 4>{2, 2, 2, 2}));
  EXPECT_EQ(counts.sum, 0u + 1 + 2 + 10 + 11 + 100 + 101 + 5000);
  EXPECT_EQ(counts.count(), 8u);
}

TEST(ServerStats, AClosedConnectionIsObservedInBothHistograms) {
  ServerStats stats;
  stats.on_closed(CloseReason::kPeerClosed, 2500ms, 3);
  stats.on_closed(CloseReason::kIdleTimeout, 50us, 0);
  const auto snapshot = stats.snapshot();
  EXPECT_EQ(snapshot.served, 2u);
  EXPECT_EQ(snapshot.duration_us.count(), 2u);
  EXPECT_EQ(snapshot.duration_us.sum, 2'500'050u);
  EXPECT_EQ(snapshot.duration_us.counts[0], 1u);              // <= 100 us
  EXPECT_EQ(snapshot.duration_us.counts[5], 1u);              // (1 s, 10 s]
  EXPECT_EQ(snapshot.messages_per_connection.counts[0], 1u);  // 0 messages
  EXPECT_EQ(snapshot.messages_per_connection.counts[2], 1u);  // (1, 10]
  EXPECT_EQ(snapshot.messages_per_connection.sum, 3u);
}

StatsSnapshot sample_stats() {
  ServerStats stats;
  for (int i = 0; i < 5; ++i) stats.on_accepted();
  for (int i = 0; i < 7; ++i) stats.on_message();
  stats.on_bytes_in(70);
  stats.on_bytes_out(21);
  stats.on_messages_sent(6);
  stats.on_rejected(RejectReason::kPerIpLimit);
  stats.on_rejected(RejectReason::kDenied);
  stats.on_rejected(RejectReason::kDenied);
  stats.on_closed(CloseReason::kPeerClosed, 2500ms, 7);
  stats.on_closed(CloseReason::kReset, 5ms, 0);
  StatsSnapshot snapshot = stats.snapshot();
  snapshot.active = 1;
  return snapshot;
}

TEST(ServerMetricFamilies, CountersCarryTheSnapshotsValues) {
  const auto families = server_metric_families(sample_stats(), {16256, "kernel.pid_max"}, "1.2.3");
  const auto value = [&](const std::string& name) {
    const MetricFamily& family = find_family(families, name);
    EXPECT_EQ(family.metric.size(), 1u) << name;
    return family.type == MetricType::Counter ? family.metric.at(0).counter.value
                                              : family.metric.at(0).gauge.value;
  };
  EXPECT_EQ(find_family(families, "tcp_server_connections_accepted_total").type,
            MetricType::Counter);
  EXPECT_EQ(value("tcp_server_connections_accepted_total"), 5);
  EXPECT_EQ(value("tcp_server_connections_served_total"), 2);
  EXPECT_EQ(find_family(families, "tcp_server_connections_active").type, MetricType::Gauge);
  EXPECT_EQ(value("tcp_server_connections_active"), 1);
  EXPECT_EQ(value("tcp_server_messages_received_total"), 7);
  EXPECT_EQ(value("tcp_server_received_bytes_total"), 70);
  EXPECT_EQ(value("tcp_server_sent_bytes_total"), 21);
  EXPECT_EQ(find_family(families, "tcp_server_messages_sent_total").type, MetricType::Counter);
  EXPECT_EQ(value("tcp_server_messages_sent_total"), 6);
}

TEST(ServerMetricFamilies, EveryReasonIsListedWithASnakeCaseLabel) {
  const auto families = server_metric_families(sample_stats(), {10, "--max-connections"}, "1");
  const MetricFamily& rejected = find_family(families, "tcp_server_connections_rejected_total");
  EXPECT_EQ(rejected.metric.size(), static_cast<std::size_t>(RejectReason::kCount));
  EXPECT_EQ(with_label(rejected, "reason", "per_ip_limit").counter.value, 1);
  EXPECT_EQ(with_label(rejected, "reason", "denied").counter.value, 2);
  EXPECT_EQ(with_label(rejected, "reason", "connection_limit").counter.value, 0);
  const MetricFamily& closed = find_family(families, "tcp_server_connections_closed_total");
  EXPECT_EQ(closed.metric.size(), static_cast<std::size_t>(CloseReason::kCount));
  EXPECT_EQ(with_label(closed, "reason", "peer_closed").counter.value, 1);
  EXPECT_EQ(with_label(closed, "reason", "reset").counter.value, 1);
  EXPECT_EQ(with_label(closed, "reason", "idle_timeout").counter.value, 0);
}

TEST(ServerMetricFamilies, HistogramsAreCumulativeInSecondsAndEndWithInf) {
  const auto families = server_metric_families(sample_stats(), {10, "--max-connections"}, "1");
  const MetricFamily& duration = find_family(families, "tcp_server_connection_duration_seconds");
  ASSERT_EQ(duration.type, MetricType::Histogram);
  const auto& histogram = duration.metric.at(0).histogram;
  EXPECT_EQ(histogram.sample_count, 2u);
  EXPECT_DOUBLE_EQ(histogram.sample_sum, 2.505);
  ASSERT_EQ(histogram.bucket.size(), kConnectionDurationBoundsUs.size() + 1);
  EXPECT_DOUBLE_EQ(histogram.bucket[0].upper_bound, 0.0001);
  EXPECT_EQ(histogram.bucket[2].cumulative_count, 1u);  // <= 10 ms: the 5 ms one
  EXPECT_EQ(histogram.bucket[4].cumulative_count, 1u);  // <= 1 s
  EXPECT_EQ(histogram.bucket[5].cumulative_count, 2u);  // <= 10 s: both
  EXPECT_TRUE(std::isinf(histogram.bucket.back().upper_bound));
  EXPECT_EQ(histogram.bucket.back().cumulative_count, 2u);

  const auto& messages =
      find_family(families, "tcp_server_connection_messages").metric.at(0).histogram;
  EXPECT_EQ(messages.sample_count, 2u);
  EXPECT_DOUBLE_EQ(messages.sample_sum, 7);
  EXPECT_EQ(messages.bucket[0].cumulative_count, 1u);  // le="0"
  EXPECT_EQ(messages.bucket[2].cumulative_count, 2u);  // le="10"
}

TEST(ServerMetricFamilies, LimitAndBuildInfoCarryTheirLabels) {
  const auto families = server_metric_families(sample_stats(), {16256, "kernel.pid_max"}, "1.2.3");
  EXPECT_EQ(with_label(find_family(families, "tcp_server_connection_limit"), "bounded_by",
                       "kernel.pid_max")
                .gauge.value,
            16256);
  EXPECT_EQ(
      with_label(find_family(families, "tcp_server_build_info"), "version", "1.2.3").gauge.value,
      1);
}

TEST(ServerMetricFamilies, SerializeToThePrometheusTextFormat) {
  const std::string text =
      serialized(server_metric_families(sample_stats(), {16256, "open files"}, "1.2.3"));
  EXPECT_NE(text.find("# TYPE tcp_server_connections_accepted_total counter\n"
                      "tcp_server_connections_accepted_total 5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tcp_server_connections_rejected_total{reason=\"denied\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("tcp_server_connection_duration_seconds_bucket{le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("tcp_server_connection_limit{bounded_by=\"open files\"} 16256\n"),
            std::string::npos);
}

TEST(ProcStat, FieldsAreCountedFromTheLastParenthesis) {
  // A command name with a space and a ')' of its own, as a process may name itself.
  const std::string line =
      "23502 (my ) prog) R 23499 23499 16082 0 -1 4194304 102 0 0 0 150 25 0 0 20 0 7 0 1087893 "
      "3133440 389 18446744073709551615 94864862674944\n";
  const auto stat = parse_proc_stat(line);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->user_ticks, 150u);
  EXPECT_EQ(stat->system_ticks, 25u);
  EXPECT_EQ(stat->threads, 7u);
  EXPECT_EQ(stat->start_ticks, 1087893u);
  EXPECT_EQ(stat->virtual_bytes, 3133440u);
  EXPECT_EQ(stat->resident_pages, 389u);
}

TEST(ProcStat, MalformedLinesGiveNothing) {
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("1 (x) R 1 2 3"));  // too few fields
  EXPECT_FALSE(parse_proc_stat("1 x R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22"));
  EXPECT_FALSE(
      parse_proc_stat("1 (x) R 1 1 1 0 -1 4 1 0 0 0 abc 25 0 0 20 0 7 0 1 2 3 4"));  // utime
}

TEST(ProcStat, BootTimeComesFromTheBtimeLine) {
  EXPECT_EQ(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), 1700000000u);
  EXPECT_FALSE(parse_boot_time("cpu 1 2 3\n"));
  EXPECT_FALSE(parse_boot_time("btime soon\n"));
}

TEST(ProcessStats, ThisProcessLooksLikeItself) {
  const auto process = read_process_stats();
  ASSERT_TRUE(process.has_value());
  EXPECT_GE(process->threads, 1u);
  EXPECT_GE(process->open_fds, 3u);  // stdin, stdout, stderr at least
  EXPECT_GT(process->resident_bytes, 0u);
  EXPECT_GT(process->virtual_bytes, process->resident_bytes);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(process->start_time_seconds, now + 1);
  EXPECT_GT(process->start_time_seconds, now - 24 * 3600);  // a test binary runs minutes
}

TEST(ServerMetrics, CollectReadsTheCountersAtEachScrapeAndAddsProcessMetrics) {
  ServerStats stats;
  const ServerMetrics metrics([&stats] { return stats.snapshot(); }, {100, "--max-connections"},
                              "9.9.9");
  stats.on_accepted();
  const auto first = metrics.Collect();
  EXPECT_EQ(find_family(first, "tcp_server_connections_accepted_total").metric.at(0).counter.value,
            1);
  stats.on_accepted();
  const auto second = metrics.Collect();
  EXPECT_EQ(find_family(second, "tcp_server_connections_accepted_total").metric.at(0).counter.value,
            2);
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_start_time_seconds",
                           "process_open_fds", "process_threads"}) {
    EXPECT_NO_THROW(find_family(second, name)) << name;
  }
}

TEST(ListenAddress, TakesIpv4AndBracketedIpv6WithAPort) {
  const auto v4 = parse_listen_address("127.0.0.1:9100");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->to_string(), "127.0.0.1:9100");
  const auto any_port = parse_listen_address("0.0.0.0:0");
  ASSERT_TRUE(any_port.has_value());
  EXPECT_EQ(any_port->port(), 0);
  const auto v6 = parse_listen_address("[::1]:9100");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->to_string(), "[::1]:9100");
}

TEST(ListenAddress, RefusesWhatItCannotBindAndSaysWhy) {
  const auto reason = [](std::string_view text) {
    std::string why;
    EXPECT_FALSE(parse_listen_address(text, &why)) << text;
    return why;
  };
  EXPECT_EQ(reason("9100"), "expected ADDR:PORT, e.g. 127.0.0.1:9100");
  EXPECT_EQ(reason("::1:9100"), "an IPv6 address goes in brackets, e.g. [::1]:9100");
  EXPECT_EQ(reason("localhost:9100"), "'localhost' is not a numeric IP address");
  EXPECT_EQ(reason(":9100"), "'' is not a numeric IP address");
  EXPECT_EQ(reason("127.0.0.1:"), "port must be a number from 0 to 65535");
  EXPECT_EQ(reason("127.0.0.1:65536"), "port must be a number from 0 to 65535");
  EXPECT_EQ(reason("127.0.0.1:-1"), "port must be a number from 0 to 65535");
  EXPECT_EQ(reason("127.0.0.1:9100 "), "port must be a number from 0 to 65535");
}

CommandLine parse(std::vector<std::string> args, std::string& err) {
  args.insert(args.begin(), "tcp_server");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream errors;
  CommandLine result = parse_command_line(static_cast<int>(argv.size()), argv.data(), out, errors);
  err = errors.str();
  return result;
}

TEST(MetricsListenOption, OffByDefaultAndTakesAnAddress) {
  std::string err;
  const auto defaults = parse({}, err);
  ASSERT_TRUE(defaults.options.has_value()) << err;
  EXPECT_FALSE(defaults.options->metrics_listen.has_value());
  const auto given = parse({"--metrics-listen", "127.0.0.1:0"}, err);
  ASSERT_TRUE(given.options.has_value()) << err;
  ASSERT_TRUE(given.options->metrics_listen.has_value());
  EXPECT_EQ(given.options->metrics_listen->to_string(), "127.0.0.1:0");
}

TEST(MetricsListenOption, ABadAddressIsOneLineNamingTheOption) {
  std::string err;
  const auto bad = parse({"--metrics-listen", "localhost:9100"}, err);
  EXPECT_FALSE(bad.options.has_value());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(err,
            "tcp_server: error: --metrics-listen: 'localhost' is not a numeric IP address. Run "
            "with --help for usage.\n");
  const auto v6 = parse({"--metrics-listen", "[::1]:9100"}, err);
  EXPECT_FALSE(v6.options.has_value());
  EXPECT_NE(err.find("--metrics-listen: IPv6 is not supported here"), std::string::npos) << err;
}

}  // namespace
}  // namespace tcp_server
