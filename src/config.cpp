#include "tcp_server/config.hpp"

#include <limits.h>
#include <pthread.h>

namespace tcp_server {
namespace {

constexpr std::size_t kMaxLineLimit = std::size_t{1} << 30;
constexpr std::size_t kMaxThreadStack = std::size_t{1} << 30;
// Below this a pcap cap holds hardly a handshake (the file header alone is 24 bytes).
constexpr std::uint64_t kMinPcapSize = 1024;

}  // namespace

std::vector<std::string> ServerConfig::validate() const {
  std::vector<std::string> problems;
  if (listen.backlog < 1) problems.emplace_back("--backlog must be at least 1");
  if (max_line < 1 || max_line > kMaxLineLimit) {
    problems.emplace_back("--max-line must be between 1 and 1073741824 bytes");
  }
  if (mode == ReplyMode::kAck && reply.empty()) {
    problems.emplace_back("--reply must not be empty in ack mode (use --mode echo to echo)");
  }
  if (thread_stack < static_cast<std::size_t>(PTHREAD_STACK_MIN) ||
      thread_stack > kMaxThreadStack) {
    problems.emplace_back("--thread-stack must be between " + std::to_string(PTHREAD_STACK_MIN) +
                          " bytes and 1 GiB");
  }
  if (idle_timeout.count() < 0) problems.emplace_back("--idle-timeout must not be negative");
  if (send_timeout.count() < 0) problems.emplace_back("--send-timeout must not be negative");
  if (drain_timeout.count() < 0) problems.emplace_back("--drain-timeout must not be negative");
  if (keepalive.enabled &&
      (keepalive.idle.count() < 1 || keepalive.interval.count() < 1 || keepalive.probes < 1)) {
    problems.emplace_back("--keepalive idle, interval and probes must each be at least 1");
  }
  if (proxy_protocol != ProxyVersions::kNone && trusted_proxies.empty()) {
    problems.emplace_back(
        "--proxy-protocol needs --trusted-proxy: only a proxy may name the client's address");
  }
  if (proxy_protocol == ProxyVersions::kNone && !trusted_proxies.empty()) {
    problems.emplace_back("--trusted-proxy is only used with --proxy-protocol");
  }
  if (proxy_header_timeout.count() <= 0) {
    problems.emplace_back("--proxy-header-timeout must be more than 0");
  }
  if (pcap_max_size != 0 && pcap_file.empty()) {
    problems.emplace_back("--pcap-max-size is only used with --pcap");
  }
  if (pcap_max_size != 0 && pcap_max_size < kMinPcapSize) {
    problems.emplace_back("--pcap-max-size must be 0 (no limit) or at least 1KiB");
  }
  for (std::string& problem : tls.validate()) problems.push_back(std::move(problem));
  if (testing.rules != nullptr && mode != ReplyMode::kAck) {
    problems.emplace_back("--rules answers messages: it needs --mode ack");
  }
  for (auto& problem : testing.validate()) problems.push_back(std::move(problem));
  return problems;
}

}  // namespace tcp_server
