// Who is admitted, and the one path a refused client takes (Admission, src/admission.hpp), with
// a stream that records what is done to it.
#include "admission.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "connection_registry.hpp"
#include "log_capture.hpp"
#include "server_log.hpp"

namespace tcp_server {
namespace {

using testing::CapturedLog;

const Endpoint kClient = *Endpoint::from_ip("192.0.2.7", 40000);

// Records the calls a refusal makes, in order.
class RecordingStream final : public ByteStream {
 public:
  explicit RecordingStream(std::vector<std::string>& calls) : calls_(calls) {}
  void configure(const StreamOptions&) noexcept override {}
  void set_receive_timeout(std::chrono::milliseconds) noexcept override {}
  ReceiveResult receive_some(std::span<char>) override { return {}; }
  ReceiveResult receive_queued(std::span<char>) override { return {}; }
  bool wait_readable(std::chrono::milliseconds) override { return true; }
  bool peer_finished_sending() override { return false; }
  std::error_code send_all(std::string_view) override { return {}; }
  void send_without_waiting(std::string_view bytes) noexcept override {
    calls_.push_back("send " + std::string(bytes));
  }
  void shut_down(int) noexcept override {}
  void reset_on_close() noexcept override {}
  void close() noexcept override { calls_.emplace_back("close"); }

 private:
  std::vector<std::string>& calls_;
};

struct NoDrain final : Drainable {
  void request_drain() noexcept override {}
  void shut_down(int) noexcept override {}
};

struct AdmissionTest : ::testing::Test {
  ServerConfig config;
  CapturedLog captured;
  ServerLog log{captured.logger()};
  ServerStats stats;
};

TEST_F(AdmissionTest, TheOpenLimitRefusesAtTheLimitAndSaysIt) {
  EXPECT_FALSE(Admission::over_limit(1, 2));
  const auto refusal = Admission::over_limit(2, 2);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->reason, RejectReason::kConnectionLimit);
  EXPECT_EQ(refusal->detail, "2 connections open");
}

TEST_F(AdmissionTest, OnlyATrustedProxyMaySendAProxyHeader) {
  config.trusted_proxies = {*Cidr::parse("10.0.0.0/8")};
  const Admission admission(config, stats, log);
  EXPECT_FALSE(admission.untrusted_proxy(*Endpoint::from_ip("10.1.2.3", 1)));
  const auto refusal = admission.untrusted_proxy(kClient);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->reason, RejectReason::kProxyHeader);
  EXPECT_EQ(refusal->detail, "not from a --trusted-proxy");
}

TEST_F(AdmissionTest, AccessRulesApplyToTheClient) {
  config.access.deny = {*Cidr::parse("192.0.2.0/24")};
  const Admission admission(config, stats, log);
  EXPECT_FALSE(admission.denied(*Endpoint::from_ip("198.51.100.1", 1)));
  const auto refusal = admission.denied(kClient);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->reason, RejectReason::kDenied);
}

TEST_F(AdmissionTest, PerIpRefusalNamesTheLimit) {
  config.max_per_ip = 3;
  const Admission admission(config, stats, log);
  const Refusal refusal = admission.per_ip_refusal();
  EXPECT_EQ(refusal.reason, RejectReason::kPerIpLimit);
  EXPECT_EQ(refusal.detail, "3 connections from this address");
}

TEST_F(AdmissionTest, RefusingSendsTheMessageCountsLogsLeavesTheRegistryThenCloses) {
  config.reject_message = "busy\n";
  const Admission admission(config, stats, log);
  std::vector<std::string> calls;
  RecordingStream stream(calls);
  NoDrain connection;
  ConnectionRegistry registry(0, [&] {
    calls.push_back(
        "left the registry, counted " +
        std::to_string(stats.snapshot().rejected[static_cast<std::size_t>(RejectReason::kDenied)]));
  });
  admission.refuse(stream, registry.add(connection), "192.0.2.7:40000", RejectReason::kDenied,
                   "not in --allow");
  EXPECT_EQ(calls,
            (std::vector<std::string>{"send busy\n", "left the registry, counted 1", "close"}));
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_TRUE(captured.wait_for("not in --allow"));
}

TEST_F(AdmissionTest, RefusingWithoutARejectMessageSendsNothing) {
  const Admission admission(config, stats, log);
  std::vector<std::string> calls;
  RecordingStream stream(calls);
  admission.refuse(stream, {}, "192.0.2.7:40000", RejectReason::kConnectionLimit, "1 open");
  EXPECT_EQ(calls, std::vector<std::string>{"close"});
}

}  // namespace
}  // namespace tcp_server
