// --metrics-listen against real scrapers: the counters after known traffic, promtool's check of
// the text, and a real Prometheus server scraping tcp_server on loopback.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "eventually.hpp"
#include "free_port.hpp"
#include "subprocess.hpp"
#include "tcp_server/socket.hpp"
#include "temp_dir.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

const std::string kServerBinary = TCP_SERVER_BINARY;
const std::string kPromtool = "/usr/bin/promtool";
const std::string kPrometheus = "/usr/bin/prometheus";

struct HttpResponse {
  int status = 0;
  std::string body;
};

// One HTTP/1.0 GET (the server closes after the response), bounded in time. Throws when the
// response is not complete: no status line, or a body shorter than its Content-Length.
HttpResponse http_get(std::uint16_t port, const std::string& target) {
  TestClient client(*Endpoint::from_ip("127.0.0.1", port));
  client.send("GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  const std::string response = client.read_available(10s);
  std::smatch status;
  if (!std::regex_search(response, status, std::regex(R"(^HTTP/1\.[01] (\d{3}))"))) {
    throw std::runtime_error("no HTTP status line in: " + response.substr(0, 200));
  }
  const auto header_end = response.find("\r\n\r\n");
  if (header_end == std::string::npos) throw std::runtime_error("no end of headers");
  HttpResponse result{std::stoi(status[1]), response.substr(header_end + 4)};
  std::smatch length;
  const std::string headers = response.substr(0, header_end);
  if (std::regex_search(headers, length,
                        std::regex(R"(\r\nContent-Length: *(\d+))", std::regex::icase)) &&
      result.body.size() != std::stoul(length[1])) {
    throw std::runtime_error("body of " + std::to_string(result.body.size()) + " bytes, " +
                             "Content-Length " + std::string(length[1]));
  }
  return result;
}

// The value of the sample whose name and labels are exactly series ("name" or
// "name{label=\"v\"}") in Prometheus text; nullopt when absent.
std::optional<double> sample(const std::string& text, const std::string& series) {
  const std::string prefix = series + " ";
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = std::min(text.find('\n', at), text.size());
    const std::string_view line(text.data() + at, end - at);
    if (line.starts_with(prefix)) return std::stod(std::string(line.substr(prefix.size())));
    at = end + 1;
  }
  return std::nullopt;
}

// tcp_server with --metrics-listen 127.0.0.1:0, and the two ports it announced.
struct ServerWithMetrics {
  explicit ServerWithMetrics(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{kServerBinary, "--host",           "127.0.0.1",  "--port",
                                  "0",           "--metrics-listen", "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process = std::make_unique<Subprocess>(argv);
    port = announced_port(*process);
    const auto line = process->wait_for_stdout_line("metrics on http://", 10s);
    if (!line) throw std::runtime_error("no metrics line; stderr: " + process->stderr_text());
    std::smatch match;
    if (!std::regex_search(*line, match, std::regex(R"(http://127\.0\.0\.1:(\d+)/metrics)"))) {
      throw std::runtime_error("unexpected line: " + *line);
    }
    metrics_port = static_cast<std::uint16_t>(std::stoi(match[1]));
  }
  [[nodiscard]] std::string scrape() const {
    const HttpResponse response = http_get(metrics_port, "/metrics");
    if (response.status != 200)
      throw std::runtime_error("status " + std::to_string(response.status));
    return response.body;
  }
  [[nodiscard]] Endpoint endpoint() const { return *Endpoint::from_ip("127.0.0.1", port); }

  std::unique_ptr<Subprocess> process;
  std::uint16_t port = 0;
  std::uint16_t metrics_port = 0;
};

constexpr int kClients = 3;
constexpr int kMessagesPerClient = 4;
const std::string kLine = "hello\n";  // answered "ok\n"

// kClients clients, each sending kMessagesPerClient lines and reading every answer, then closing.
void send_known_traffic(const Endpoint& server) {
  for (int c = 0; c < kClients; ++c) {
    TestClient client(server);
    for (int m = 0; m < kMessagesPerClient; ++m) {
      client.send(kLine);
      ASSERT_EQ(client.read_line(), "ok\n");
    }
  }
}

TEST(Metrics, CountersMatchTheTrafficSent) {
  ServerWithMetrics server({"--deny", "127.0.0.9"});
  send_known_traffic(server.endpoint());
  {  // one refused client
    TestClient denied(server.endpoint(), *Endpoint::from_ip("127.0.0.9", 0));
    EXPECT_TRUE(denied.wait_for_close());
  }
  TestClient open_client(server.endpoint());
  open_client.send(kLine);
  ASSERT_EQ(open_client.read_line(), "ok\n");

  // Closes are counted as the server sees them, after the clients' own close: wait for them.
  std::string text;
  ASSERT_TRUE(eventually([&] {
    text = server.scrape();
    return sample(text, "tcp_server_connections_closed_total{reason=\"peer_closed\"}") ==
               kClients &&
           sample(text, "tcp_server_connections_rejected_total{reason=\"denied\"}") == 1 &&
           // counted once the send returns, which can be just after the client read the reply
           sample(text, "tcp_server_messages_sent_total") >= kClients * kMessagesPerClient + 1;
  })) << text;
  constexpr int kMessages = kClients * kMessagesPerClient + 1;
  EXPECT_EQ(sample(text, "tcp_server_connections_accepted_total"), kClients + 2);
  EXPECT_EQ(sample(text, "tcp_server_connections_served_total"), kClients);
  EXPECT_EQ(sample(text, "tcp_server_connections_active"), 1);
  EXPECT_EQ(sample(text, "tcp_server_messages_received_total"), kMessages);
  EXPECT_EQ(sample(text, "tcp_server_received_bytes_total"), kMessages * kLine.size());
  EXPECT_EQ(sample(text, "tcp_server_sent_bytes_total"), kMessages * 3);
  EXPECT_EQ(sample(text, "tcp_server_messages_sent_total"), kMessages);  // an "ok\n" each
  EXPECT_EQ(sample(text, "tcp_server_connections_rejected_total{reason=\"per_ip_limit\"}"), 0);
  EXPECT_EQ(sample(text, "tcp_server_connection_duration_seconds_count"), kClients);
  EXPECT_EQ(sample(text, "tcp_server_connection_messages_count"), kClients);
  EXPECT_EQ(sample(text, "tcp_server_connection_messages_sum"), kClients * kMessagesPerClient);
  EXPECT_EQ(sample(text, "tcp_server_connection_messages_bucket{le=\"1\"}"), 0);
  EXPECT_EQ(sample(text, "tcp_server_connection_messages_bucket{le=\"10\"}"), kClients);
  EXPECT_EQ(sample(text, "tcp_server_build_info{version=\"" TCP_SERVER_VERSION "\"}"), 1);
  EXPECT_GE(sample(text, "process_threads").value_or(0), 3);  // main, accept loop, log writer
  EXPECT_GE(sample(text, "process_open_fds").value_or(0), 4);
  EXPECT_GT(sample(text, "process_resident_memory_bytes").value_or(0), 0);
  EXPECT_NE(text.find("tcp_server_connection_limit{bounded_by=\""), std::string::npos);
}

TEST(Metrics, MessagesSentCountsEveryReplyOfABatchSentInOneWrite) {
  ServerWithMetrics server;
  constexpr int kBatch = 200;
  std::string batch;
  for (int i = 0; i < kBatch; ++i) batch += kLine;
  TestClient client(server.endpoint());
  client.send(batch);  // the acks go back in fewer writes than there are lines
  for (int i = 0; i < kBatch; ++i) ASSERT_EQ(client.read_line(), "ok\n") << i;
  // The server counts a send once it returns, which can be just after the client read it.
  std::string text;
  EXPECT_TRUE(eventually([&] {
    text = server.scrape();
    return sample(text, "tcp_server_messages_sent_total") >= kBatch;
  })) << text;
  EXPECT_EQ(sample(text, "tcp_server_messages_received_total"), kBatch);
  EXPECT_EQ(sample(text, "tcp_server_messages_sent_total"), kBatch) << text;
  EXPECT_EQ(sample(text, "tcp_server_sent_bytes_total"), kBatch * 3);
}

TEST(Metrics, ConnectionLimitSaysWhatSetIt) {
  ServerWithMetrics server({"--max-connections", "7"});
  EXPECT_EQ(
      sample(server.scrape(), "tcp_server_connection_limit{bounded_by=\"--max-connections\"}"), 7);
}

TEST(Metrics, OtherPathsAreNotFound) {
  ServerWithMetrics server;
  EXPECT_EQ(http_get(server.metrics_port, "/").status, 404);
  EXPECT_EQ(http_get(server.metrics_port, "/metrics/../etc/passwd").status, 404);
}

// Peers that connect to the metrics port and send nothing hold civetweb's two threads; they are
// closed after its request timeout (5 s, not civetweb's default 30 s), so scrapes resume.
TEST(Metrics, IdlePeersOnTheMetricsPortAreClosedAndScrapesResume) {
  ServerWithMetrics server;
  const Endpoint metrics = *Endpoint::from_ip("127.0.0.1", server.metrics_port);
  TestClient idle_a(metrics);
  TestClient idle_b(metrics);
  EXPECT_TRUE(idle_a.wait_for_close(10s));
  EXPECT_TRUE(idle_b.wait_for_close(10s));
  EXPECT_TRUE(sample(server.scrape(), "tcp_server_connections_active").has_value());
}

TEST(Metrics, SigtermStopsTheServerAndTheMetricsEndpoint) {
  ServerWithMetrics server;
  (void)server.scrape();
  server.process->send_signal(SIGTERM);
  EXPECT_EQ(server.process->wait_for_exit(10s), 0) << server.process->stderr_text();
  std::error_code error;
  EXPECT_FALSE(connect_to(*Endpoint::from_ip("127.0.0.1", server.metrics_port), 1s, error).valid());
}

TEST(Metrics, ABusyMetricsPortIsAOneLineErrorAtStart) {
  ServerWithMetrics first;
  const auto result =
      run_to_completion({kServerBinary, "--host", "127.0.0.1", "--port", "0", "--metrics-listen",
                         "127.0.0.1:" + std::to_string(first.metrics_port)});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err,
            "tcp_server: error: cannot listen on 127.0.0.1:" + std::to_string(first.metrics_port) +
                " for --metrics-listen (address in use or not local?)\n");
}

TEST(Metrics, PromtoolAcceptsTheScrapedText) {
  ASSERT_EQ(::access(kPromtool.c_str(), X_OK), 0)
      << kPromtool << " is missing: scripts/setup --test installs it";
  ServerWithMetrics server;
  send_known_traffic(server.endpoint());
  TempDir dir;
  const auto check = [&](const std::string& text) {
    return run_to_completion(
        {"/bin/sh", "-c", kPromtool + " check metrics < " + dir.file("scraped.txt", text)});
  };
  const auto accepted = check(server.scrape());
  EXPECT_EQ(accepted.status, 0) << accepted.out << accepted.err;
  // The check is a real one: it refuses a counter without _total and a malformed line.
  const auto refused = check("# TYPE broken counter\nbroken{ 1\n");
  EXPECT_NE(refused.status, 0);
}

// A started Prometheus server: its HTTP port (it cannot be given port 0).
struct PrometheusServer {
  std::unique_ptr<Subprocess> process;
  std::uint16_t port = 0;
};

// Starts prometheus on kernel-chosen free ports until one is free (bounded), ready once its
// /-/ready answers 200.
PrometheusServer start_prometheus(const TempDir& dir, const std::string& config_file) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    PrometheusServer prometheus;
    prometheus.port = kernel_chosen_free_port();
    prometheus.process = std::make_unique<Subprocess>(std::vector<std::string>{
        kPrometheus, "--config.file=" + config_file,
        "--storage.tsdb.path=" + dir.path() + "/data-" + std::to_string(attempt),
        "--web.listen-address=127.0.0.1:" + std::to_string(prometheus.port)});
    const bool ready = eventually(
        [&] {
          if (prometheus.process->wait_for_exit(0ms).has_value()) return true;  // it gave up
          try {
            return http_get(prometheus.port, "/-/ready").status == 200;
          } catch (const std::exception&) {
            return false;  // not listening yet
          }
        },
        20s);
    if (ready && !prometheus.process->wait_for_exit(0ms).has_value()) return prometheus;
  }
  throw std::runtime_error("could not start prometheus");
}

// The value of a one-sample instant query through Prometheus's HTTP API ("value":[time,"v"]);
// nullopt while the result is empty.
std::optional<std::string> query(std::uint16_t port, const std::string& encoded_query) {
  const HttpResponse response = http_get(port, "/api/v1/query?query=" + encoded_query);
  if (response.status != 200) return std::nullopt;
  std::smatch match;
  if (!std::regex_search(response.body, match,
                         std::regex(R"re("value":\[[0-9.]+,"([^"]*)"\])re"))) {
    return std::nullopt;
  }
  return match[1];
}

TEST(Metrics, ARealPrometheusScrapesTheServer) {
  ASSERT_EQ(::access(kPrometheus.c_str(), X_OK), 0)
      << kPrometheus << " is missing: scripts/setup --test installs it";
  ServerWithMetrics server;
  send_known_traffic(server.endpoint());
  TempDir dir;
  const std::string config =
      dir.file("prometheus.yml",
               "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
               "scrape_configs:\n  - job_name: tcp_server\n    static_configs:\n"
               "      - targets: ['127.0.0.1:" +
                   std::to_string(server.metrics_port) + "']\n");
  PrometheusServer prometheus = start_prometheus(dir, config);

  // up{job="tcp_server"} and the messages counter, as Prometheus stored them.
  std::optional<std::string> up;
  std::optional<std::string> messages;
  const bool scraped = eventually(
      [&] {
        up = query(prometheus.port, "up%7Bjob%3D%22tcp_server%22%7D");
        messages = query(prometheus.port, "tcp_server_messages_received_total");
        return up == "1" && messages.has_value();
      },
      30s);
  EXPECT_TRUE(scraped) << "prometheus stderr: " << prometheus.process->stderr_text();
  EXPECT_EQ(up, "1");
  EXPECT_EQ(messages, std::to_string(kClients * kMessagesPerClient));

  prometheus.process->send_signal(SIGTERM);
  EXPECT_TRUE(prometheus.process->wait_for_exit(20s).has_value());
}

}  // namespace
}  // namespace tcp_server::testing
