// tcp_client's commands against an in-process tcp_server on loopback (kernel-chosen ports).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "bench.hpp"
#include "commands.hpp"
#include "message_template.hpp"
#include "running_server.hpp"
#include "tcp_server/listener.hpp"
#include "tcp_server/reply_text.hpp"

namespace tcp_server::client {
namespace {

using namespace std::chrono_literals;
using testing::loopback_config;
using testing::RunningServer;

Target target_of(const RunningServer& running) {
  return {running.endpoint().ip_string(), running.endpoint().port()};
}

// A port nothing listens on: bound by us (so no one else takes it), never listened on.
struct ClosedPort {
  UniqueFd fd;
  std::uint16_t port = 0;
  ClosedPort() {
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    port = local_endpoint(fd.get()).port();
  }
};

TEST(ClientSend, TutorialThreeClientsEachPrintTheirReply) {
  RunningServer running(loopback_config());
  SendOptions options;
  options.target = target_of(running);
  options.clients = 3;
  options.message = "客户端{id}正在连接";
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_send(options, out, err), 0) << err.str();
  for (int id = 1; id <= 3; ++id) {
    EXPECT_NE(out.str().find("client " + std::to_string(id) + ": ok\n"), std::string::npos)
        << out.str();
    EXPECT_TRUE(running.log().wait_for("客户端" + std::to_string(id) + "正在连接"));
  }
  EXPECT_NE(out.str().find("3 clients, 3/3 replies, 0 clients failed"), std::string::npos)
      << out.str();
  EXPECT_EQ(err.str(), "");
}

// The first tutorial, both ends: its server answers GBK clients in GBK, one reply per read, and
// its "client 2.0" sends GBK without a newline and decodes each reply as GBK.
TEST(ClientSend, TutorialGbkClientsPrintTheDecodedReplyOfAGbkServer) {
  const TextEncoding gbk = TextEncoding::named("gbk");
  ServerConfig config = loopback_config();
  config.framing = Framing::kChunk;
  config.encoding = gbk;
  config.reply = encode_reply_text("ok,问题正在处理中...", gbk);
  RunningServer running(config);
  SendOptions options;
  options.target = target_of(running);
  options.clients = 3;
  options.message = encode_message_template("客户端{id}正在连接", gbk);
  options.append_newline = false;
  options.reply_framing = ReplyFraming::kChunk;
  options.encoding = gbk;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_send(options, out, err), 0) << err.str();
  for (int id = 1; id <= 3; ++id) {
    EXPECT_NE(out.str().find("client " + std::to_string(id) + ": ok,问题正在处理中...\n"),
              std::string::npos)
        << out.str();
    // The server decoded the client's GBK for its log.
    EXPECT_TRUE(running.log().wait_for("客户端" + std::to_string(id) + "正在连接"));
  }
  EXPECT_NE(out.str().find("3 clients, 3/3 replies, 0 clients failed"), std::string::npos)
      << out.str();
  EXPECT_EQ(err.str(), "");
}

TEST(ClientSend, TwoHundredClientsTwentyMessagesEachAgainstAnEchoServer) {
  ServerConfig config = loopback_config();
  config.mode = ReplyMode::kEcho;
  config.log_payloads = false;
  RunningServer running(config);
  SendOptions options;
  options.target = target_of(running);
  options.clients = 200;
  options.count = 20;
  options.message = "client {id} message {n}";
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_send(options, out, err), 0) << err.str();
  // Every reply is the echo of its own message, printed under its own client.
  EXPECT_NE(out.str().find("client 17: client 17 message 20\n"), std::string::npos);
  EXPECT_NE(out.str().find("client 200: client 200 message 1\n"), std::string::npos);
  EXPECT_NE(out.str().find("200 clients, 4000/4000 replies, 0 clients failed"), std::string::npos);
}

TEST(ClientSend, ARefusedConnectionFailsWithTheReasonAndStatusOne) {
  const ClosedPort closed;
  SendOptions options;
  options.target = {"127.0.0.1", closed.port};
  options.clients = 2;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_send(options, out, err), 1);
  EXPECT_NE(err.str().find("client 1 failed: connect to 127.0.0.1:" + std::to_string(closed.port) +
                           ": Connection refused"),
            std::string::npos)
      << err.str();
  EXPECT_NE(err.str().find("client 2 failed"), std::string::npos) << err.str();
  EXPECT_NE(out.str().find("2 clients, 0/2 replies, 2 clients failed"), std::string::npos);
}

TEST(ClientSend, ControlBytesInARepliesAreShownEscaped) {
  ServerConfig config = loopback_config();
  config.reply = "\x1b[31mred";
  RunningServer running(config);
  SendOptions options;
  options.target = target_of(running);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_send(options, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("client 1: \\x1b[31mred\n"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find('\x1b'), std::string::npos);
}

TEST(ClientSend, ChunkFramedServerWithoutNewlines) {
  ServerConfig config = loopback_config();
  config.framing = Framing::kChunk;
  config.reply = "ok,问题正在处理中...";
  RunningServer running(config);
  SendOptions options;
  options.target = target_of(running);
  options.count = 3;
  options.append_newline = false;
  options.reply_framing = ReplyFraming::kChunk;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_send(options, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("1 clients, 3/3 replies"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("client 1: ok,问题正在处理中..."), std::string::npos) << out.str();
}

// Input through a pipe, output into a pipe read on another thread, like a shell would.
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno_code(errno), "pipe2");
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
};

TEST(ClientChat, LinesGoOutRepliesComeBackAndEndOfInputWaitsForThem) {
  RunningServer running(loopback_config());
  Pipe input;
  Pipe output;
  const std::string lines = "hello\n你好\nthird\n";
  ASSERT_EQ(::write(input.write_end.get(), lines.data(), lines.size()),
            static_cast<ssize_t>(lines.size()));
  input.write_end.reset();  // end of input right away: the replies must still all arrive
  std::string printed;
  std::thread reader([&] {
    char buffer[256];
    ssize_t got;
    while ((got = ::read(output.read_end.get(), buffer, sizeof buffer)) > 0) {
      printed.append(buffer, static_cast<std::size_t>(got));
    }
  });
  ChatOptions options;
  options.target = target_of(running);
  std::ostringstream err;
  const int status = run_chat(options, input.read_end.get(), output.write_end.get(), err);
  output.write_end.reset();
  reader.join();
  EXPECT_EQ(status, 0) << err.str();
  EXPECT_EQ(printed, "ok\nok\nok\n");
  EXPECT_TRUE(running.log().wait_for("你好"));
  EXPECT_EQ(err.str(), "");
}

TEST(ClientChat, RefusedConnectionIsOneLineAndStatusOne) {
  const ClosedPort closed;
  ChatOptions options;
  options.target = {"127.0.0.1", closed.port};
  std::ostringstream err;
  EXPECT_EQ(run_chat(options, STDIN_FILENO, STDOUT_FILENO, err), 1);
  EXPECT_NE(err.str().find("Connection refused"), std::string::npos) << err.str();
}

BenchOptions short_bench(const RunningServer& running, BenchMode mode) {
  BenchOptions options;
  options.target = target_of(running);
  options.mode = mode;
  options.duration = 300ms;
  options.progress = false;
  return options;
}

TEST(ClientBench, PingpongWithPipelineChecksEveryReplyAndRecordsEachLatency) {
  ServerConfig config = loopback_config();
  config.log_payloads = false;
  RunningServer running(config);
  BenchOptions options = short_bench(running, BenchMode::kPingpong);
  options.connections = 20;
  options.pipeline = 4;
  options.threads = 2;
  const BenchResult result = run_bench(options, running.endpoint(), nullptr);
  EXPECT_GT(result.replies, 0u);
  EXPECT_EQ(result.errors.total(), 0u);
  EXPECT_EQ(result.latency.count(), result.replies);
  EXPECT_GT(result.latency.quantile(0.5).count(), 0);
  // The server saw at least every reply we counted (each was one of its messages).
  EXPECT_GE(running.server().stats().messages, result.replies);
}

TEST(ClientBench, WrongRepliesAreCountedNotFatal) {
  ServerConfig config = loopback_config();
  config.log_payloads = false;
  config.reply = "no";
  RunningServer running(config);
  BenchOptions options = short_bench(running, BenchMode::kPingpong);
  options.connections = 5;
  const BenchResult result = run_bench(options, running.endpoint(), nullptr);
  EXPECT_EQ(result.replies, 0u);
  EXPECT_GT(result.errors.wrong_reply, 0u);
  const std::string json = format_json(options, result);
  EXPECT_NE(json.find("\"wrong_reply\":" + std::to_string(result.errors.wrong_reply)),
            std::string::npos)
      << json;
}

TEST(ClientBench, EchoServerAnswersTheMessageItself) {
  ServerConfig config = loopback_config();
  config.mode = ReplyMode::kEcho;
  config.log_payloads = false;
  RunningServer running(config);
  BenchOptions options = short_bench(running, BenchMode::kPingpong);
  options.message = "PING\r\n";
  options.expect = "PING\r\n";
  options.connections = 3;
  const BenchResult result = run_bench(options, running.endpoint(), nullptr);
  EXPECT_GT(result.replies, 0u);
  EXPECT_EQ(result.errors.total(), 0u);
}

TEST(ClientBench, ChurnOpensAndClosesConnectionsAndTheServerServedEach) {
  ServerConfig config = loopback_config();
  config.log_payloads = false;
  RunningServer running(config);
  BenchOptions options = short_bench(running, BenchMode::kChurn);
  options.concurrency = 10;
  const BenchResult result = run_bench(options, running.endpoint(), nullptr);
  EXPECT_GT(result.connections, 0u);
  EXPECT_EQ(result.connections, result.replies);
  EXPECT_EQ(result.errors.total(), 0u);
  EXPECT_GE(running.server().stats().accepted, result.connections);
  EXPECT_NE(format_summary(options, result).find("connections/s"), std::string::npos);
}

TEST(ClientBench, HoldOpensEveryConnectionAndEachAnswersAfterwards) {
  ServerConfig config = loopback_config();
  config.log_payloads = false;
  RunningServer running(config);
  BenchOptions options = short_bench(running, BenchMode::kHold);
  options.connections = 300;
  options.hold_time = 100ms;
  const BenchResult result = run_bench(options, running.endpoint(), nullptr);
  EXPECT_EQ(result.connections, 300u);
  EXPECT_EQ(result.answered, 300u);
  EXPECT_EQ(result.errors.total(), 0u);
  EXPECT_EQ(running.server().stats().accepted, 300u);
}

TEST(ClientBench, HoldCountsConnectionsTheServerDropsWhileIdle) {
  ServerConfig config = loopback_config();
  config.idle_timeout = 50ms;  // every held connection is closed by the server
  RunningServer running(config);
  BenchOptions options = short_bench(running, BenchMode::kHold);
  options.connections = 20;
  options.hold_time = 2s;  // bounded; the server closes them long before
  const BenchResult result = run_bench(options, running.endpoint(), nullptr);
  EXPECT_EQ(result.connections, 20u);
  EXPECT_EQ(result.answered, 0u);
  EXPECT_EQ(result.errors.closed, 20u);
}

TEST(ClientBench, ARefusingServerIsCountedAndTheRunStillEnds) {
  const ClosedPort closed;
  BenchOptions options;
  options.target = {"127.0.0.1", closed.port};
  options.duration = 200ms;
  options.connections = 4;
  options.progress = false;
  const BenchResult result =
      run_bench(options, *Endpoint::from_ip("127.0.0.1", closed.port), nullptr);
  EXPECT_EQ(result.replies, 0u);
  EXPECT_GT(result.errors.refused, 0u);
}

}  // namespace
}  // namespace tcp_server::client
