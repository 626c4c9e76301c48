// tcp_server behind the real load balancers, started by the tests on loopback: HAProxy with
// send-proxy and send-proxy-v2, nginx's stream proxy with proxy_protocol on, and two
// tcp_server processes behind HAProxy while one of them drains. Clients connect from
// 127.0.0.5 while the proxies connect from 127.0.0.1, so the log shows whose address it used.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "eventually.hpp"
#include "free_port.hpp"
#include "running_server.hpp"
#include "subprocess.hpp"
#include "temp_dir.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

const std::string kServerBinary = TCP_SERVER_BINARY;
const Endpoint kClientAddress = *Endpoint::from_ip("127.0.0.5", 0);

// A proxy process listening on `port`: started from argv, ready once a connection succeeds.
struct Proxy {
  std::unique_ptr<Subprocess> process;
  std::uint16_t port = 0;
};

// Starts the program argv_for(port) on kernel-chosen ports until one is free (bounded), and
// waits until it accepts connections.
template <class ArgvFor>
Proxy start_proxy(const std::string& program, ArgvFor argv_for) {
  if (::access(program.c_str(), X_OK) != 0) {
    throw std::runtime_error(program + " is missing: scripts/setup --test installs it");
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    Proxy proxy;
    proxy.port = kernel_chosen_free_port();
    proxy.process = std::make_unique<Subprocess>(argv_for(proxy.port));
    const Endpoint front = *Endpoint::from_ip("127.0.0.1", proxy.port);
    const bool listening = eventually(
        [&] {
          if (proxy.process->wait_for_exit(0ms).has_value()) return true;  // it gave up
          std::error_code error;
          return connect_to(front, 1s, error).valid();
        },
        10s);
    if (listening && !proxy.process->wait_for_exit(0ms).has_value()) return proxy;
  }
  throw std::runtime_error("could not start " + program);
}

Proxy start_haproxy(const TempDir& dir, const std::vector<std::uint16_t>& servers,
                    const std::string& server_options) {
  return start_proxy("/usr/sbin/haproxy", [&](std::uint16_t port) {
    std::string config =
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n"
        "  timeout server 30s\n  retries 3\n  option redispatch\n"
        "frontend front\n  bind 127.0.0.1:" +
        std::to_string(port) +
        "\n  default_backend servers\nbackend servers\n  balance roundrobin\n";
    for (std::size_t i = 0; i < servers.size(); ++i) {
      config += "  server s" + std::to_string(i) + " 127.0.0.1:" + std::to_string(servers[i]) +
                " " + server_options + "\n";
    }
    return std::vector<std::string>{"/usr/sbin/haproxy", "-db", "-f",
                                    dir.file("haproxy.cfg", config)};
  });
}

ServerConfig behind_proxy(ProxyVersions versions) {
  ServerConfig config = loopback_config();
  config.proxy_protocol = versions;
  config.trusted_proxies.push_back(*Cidr::parse("127.0.0.1/32"));
  return config;
}

void expect_served_with_real_address(RunningServer& running, std::uint16_t proxy_port) {
  TestClient client(*Endpoint::from_ip("127.0.0.1", proxy_port), kClientAddress);
  client.send("through the proxy\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_TRUE(running.log().wait_for(client.local().to_string() + " through the proxy"));
}

TEST(LoadBalancers, HaproxySendProxyV1GivesTheServerTheClientsAddress) {
  RunningServer running(behind_proxy(ProxyVersions::kV1));
  TempDir dir;
  Proxy haproxy = start_haproxy(dir, {running.endpoint().port()}, "send-proxy");
  expect_served_with_real_address(running, haproxy.port);
}

TEST(LoadBalancers, HaproxySendProxyV2GivesTheServerTheClientsAddress) {
  RunningServer running(behind_proxy(ProxyVersions::kV2));
  TempDir dir;
  Proxy haproxy = start_haproxy(dir, {running.endpoint().port()}, "send-proxy-v2");
  expect_served_with_real_address(running, haproxy.port);
}

TEST(LoadBalancers, NginxStreamProxyProtocolGivesTheServerTheClientsAddress) {
  RunningServer running(behind_proxy(ProxyVersions::kAny));
  TempDir dir;
  Proxy nginx = start_proxy("/usr/sbin/nginx", [&](std::uint16_t port) {
    const std::string config =
        "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n"
        "daemon off;\nmaster_process off;\nworker_processes 1;\n"
        "pid " +
        dir.path() + "/nginx.pid;\nerror_log " + dir.path() +
        "/error.log;\n"
        "events { worker_connections 64; }\n"
        "stream { server { listen 127.0.0.1:" +
        std::to_string(port) +
        "; proxy_pass 127.0.0.1:" + std::to_string(running.endpoint().port()) +
        "; proxy_protocol on; } }\n";
    return std::vector<std::string>{"/usr/sbin/nginx",
                                    "-p",
                                    dir.path(),
                                    "-e",
                                    dir.path() + "/error.log",
                                    "-c",
                                    dir.file("nginx.conf", config)};
  });
  expect_served_with_real_address(running, nginx.port);
}

// Two tcp_server processes behind HAProxy (health checks, PROXY v2). Clients are spread over
// both; one is stopped with SIGTERM and drains; every client keeps being served.
TEST(LoadBalancers, TwoServersBehindHaproxyOneDrainsAndNoClientFails) {
  std::vector<std::unique_ptr<Subprocess>> servers;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 2; ++i) {
    servers.push_back(std::make_unique<Subprocess>(
        std::vector<std::string>{kServerBinary, "--host", "127.0.0.1", "--port", "0",
                                 "--proxy-protocol", "v2", "--trusted-proxy", "127.0.0.1"}));
    ports.push_back(announced_port(*servers.back()));
  }
  TempDir dir;
  Proxy haproxy = start_haproxy(dir, ports, "send-proxy-v2 check inter 100ms fall 1 rise 2");
  const Endpoint front = *Endpoint::from_ip("127.0.0.1", haproxy.port);

  int failures = 0;
  const auto one_client = [&](const std::string& text) {
    try {
      TestClient client(front, kClientAddress);
      client.send(text + "\n");
      if (client.read_line() != "ok\n") ++failures;
    } catch (const std::exception&) {
      ++failures;
    }
  };
  for (int i = 0; i < 20; ++i) one_client("spread " + std::to_string(i));
  EXPECT_EQ(failures, 0);
  EXPECT_TRUE(servers[0]->wait_for_stdout_line("127.0.0.5:", 10s)) << "server 0 got no client";
  EXPECT_TRUE(servers[1]->wait_for_stdout_line("127.0.0.5:", 10s)) << "server 1 got no client";

  servers[0]->send_signal(SIGTERM);
  // Clients during and after the drain: HAProxy retries a refused connect on the other server
  // (option redispatch) until its health check takes the stopped one out.
  for (int i = 0; i < 40; ++i) one_client("after " + std::to_string(i));
  EXPECT_EQ(servers[0]->wait_for_exit(10s), 0);
  // On a busy machine the 40 may all be done before server 0 even reads its signal; once it has
  // exited, every client must land on the other server.
  for (int i = 0; i < 5; ++i) one_client("final " + std::to_string(i));
  EXPECT_EQ(failures, 0);
  EXPECT_TRUE(servers[1]->wait_for_stdout_line(" final 4", 10s));
}

// --reuseport: a second process can bind the port the first is serving, and the kernel spreads
// clients over both.
TEST(ReusePort, TwoProcessesShareOnePortAndBothServe) {
  Subprocess first({kServerBinary, "--host", "127.0.0.1", "--port", "0", "--reuseport"});
  const std::uint16_t port = announced_port(first);
  Subprocess second(
      {kServerBinary, "--host", "127.0.0.1", "--port", std::to_string(port), "--reuseport"});
  ASSERT_EQ(announced_port(second), port) << second.stderr_text();
  for (int i = 0; i < 40; ++i) {
    TestClient client(*Endpoint::from_ip("127.0.0.1", port));
    client.send("shared\n");
    EXPECT_EQ(client.read_line(), "ok\n");
  }
  // 40 connections from distinct ports: each process gets some unless the hash sent all 40 to
  // one (a chance of 2 in 2^40).
  EXPECT_TRUE(first.wait_for_stdout_line(" shared", 10s));
  EXPECT_TRUE(second.wait_for_stdout_line(" shared", 10s));
}

TEST(ReusePort, WithoutItTheSecondProcessGetsAddressInUse) {
  Subprocess first({kServerBinary, "--host", "127.0.0.1", "--port", "0"});
  const std::uint16_t port = announced_port(first);
  const auto second =
      run_to_completion({kServerBinary, "--host", "127.0.0.1", "--port", std::to_string(port)});
  EXPECT_EQ(second.status, 1);
  EXPECT_NE(second.err.find("Address already in use"), std::string::npos) << second.err;
}

}  // namespace
}  // namespace tcp_server::testing
