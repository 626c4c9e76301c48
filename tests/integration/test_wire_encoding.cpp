// --encoding on the wire, through the real binary: clients' bytes decoded for the log, the
// reply and the reject message sent in the clients' encoding, bad names and texts refused.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>
#include <vector>

#include "subprocess.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = TCP_SERVER_BINARY;

// "ok,问题正在处理中..." and "客户端1正在连接" in GBK, as Python's .encode("gbk") gives them.
const std::string kTutorialReplyGbk =
    "ok,\xce\xca\xcc\xe2\xd5\xfd\xd4\xda\xb4\xa6\xc0\xed\xd6\xd0...";
const std::string kClientOneGbk =
    "\xbf\xcd\xbb\xa7\xb6\xcb"
    "1\xd5\xfd\xd4\xda\xc1\xac\xbd\xd3";

// What the tutorial's client does: one recv(1024), whatever it returns.
std::string recv_once(const TestClient& client) {
  pollfd ready{client.fd(), POLLIN, 0};
  if (::poll(&ready, 1, static_cast<int>(kIoTimeout.count())) != 1) return "(no reply)";
  char buffer[1024];
  const ssize_t received = ::recv(client.fd(), buffer, sizeof buffer, 0);
  return received < 0 ? "(recv failed)" : std::string(buffer, static_cast<std::size_t>(received));
}

std::vector<std::string> server_argv(std::vector<std::string> flags) {
  std::vector<std::string> argv{kBinary, "--host", "127.0.0.1", "--port", "0"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return argv;
}

void stop(Subprocess& server) {
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_for_exit(10s), 0) << server.stderr_text();
}

struct Sample {
  const char* encoding;
  const char* reply;        // as typed on the command line
  std::string reply_bytes;  // what the client must receive
  std::string message;      // what the client sends
  const char* logged;       // how the log shows it
};

void expect_both_ways(const Sample& sample) {
  Subprocess server(
      server_argv({"--framing", "chunk", "--encoding", sample.encoding, "--reply", sample.reply}));
  TestClient client(*Endpoint::from_ip("127.0.0.1", announced_port(server)));
  client.send(sample.message);  // no newline: chunk framing answers each read
  EXPECT_EQ(recv_once(client), sample.reply_bytes) << sample.encoding;
  EXPECT_TRUE(server.wait_for_stdout_line(client.local().to_string() + " " + sample.logged, 10s))
      << sample.encoding << "\n"
      << server.stdout_text();
  stop(server);
}

TEST(WireEncoding, AGbkClientReadsTheTutorialReplyInGbkFromOneRecv) {
  expect_both_ways(
      {"gbk", "ok,问题正在处理中...", kTutorialReplyGbk, kClientOneGbk, "客户端1正在连接"});
}

TEST(WireEncoding, Gb18030ClientsGetGb18030BothWaysFourByteCharactersIncluded) {
  expect_both_ways({"gb18030", "已收到😀", "\xd2\xd1\xca\xd5\xb5\xbd\x94\x39\xfc\x36",
                    "\xbf\xcd\xbb\xa7\xb6\xcb\x94\x39\xfc\x36", "客户端😀"});
}

TEST(WireEncoding, Big5ClientsGetBig5BothWays) {
  expect_both_ways({"big5", "問題正在處理中",
                    "\xb0\xdd\xc3\x44\xa5\xbf\xa6\x62\xb3\x42\xb2\x7a\xa4\xa4",
                    "\xab\xc8\xa4\xe1\xba\xdd"
                    "1",
                    "客戶端1"});
}

TEST(WireEncoding, LineFramingAddsItsNewlineAfterTheEncodedReply) {
  Subprocess server(server_argv({"--encoding", "gbk", "--reply", "好"}));
  TestClient client(*Endpoint::from_ip("127.0.0.1", announced_port(server)));
  client.send(kClientOneGbk + "\n");
  EXPECT_EQ(client.read_line(), "\xba\xc3\n");
  stop(server);
}

TEST(WireEncoding, TheRejectMessageIsSentInTheClientsEncodingToo) {
  Subprocess server(server_argv(
      {"--encoding", "gbk", "--max-connections", "1", "--reject-message", "服务器忙\\r\\n"}));
  const Endpoint endpoint = *Endpoint::from_ip("127.0.0.1", announced_port(server));
  TestClient served(endpoint);
  served.send("hi\n");
  EXPECT_EQ(served.read_line(), "ok\n");  // served: it holds the one slot
  TestClient refused(endpoint);
  EXPECT_EQ(refused.read_line(), "\xb7\xfe\xce\xf1\xc6\xf7\xc3\xa6\r\n");
  EXPECT_TRUE(refused.wait_for_close());
  stop(server);
}

TEST(WireEncoding, EchoModeSendsTheBytesBackUntouched) {
  Subprocess server(server_argv({"--mode", "echo", "--framing", "chunk", "--encoding", "gbk"}));
  TestClient client(*Endpoint::from_ip("127.0.0.1", announced_port(server)));
  client.send(kClientOneGbk + "\xff");
  EXPECT_EQ(client.read_exactly(kClientOneGbk.size() + 1), kClientOneGbk + "\xff");
  EXPECT_TRUE(server.wait_for_stdout_line("客户端1正在连接\\xff", 10s)) << server.stdout_text();
  stop(server);
}

TEST(WireEncoding, AReplyTheEncodingCannotHoldIsRefusedAtStartSayingWhichCharacter) {
  const auto result =
      run_to_completion({kBinary, "--port", "0", "--encoding", "iso-8859-1", "--reply", "你好"});
  EXPECT_EQ(result.status, 2);
  EXPECT_EQ(result.err,
            "tcp_server: error: --reply: cannot encode '你' (U+4F60), character 1, in ISO-8859-1. "
            "Run with --help for usage.\n");
  EXPECT_EQ(result.out, "");
}

TEST(WireEncoding, AnUnknownEncodingIsRefusedAtStartByName) {
  const auto result = run_to_completion({kBinary, "--port", "0", "--encoding", "klingon"});
  EXPECT_EQ(result.status, 2);
  EXPECT_EQ(result.err,
            "tcp_server: error: --encoding: unknown encoding 'klingon' (iconv -l lists the ones "
            "this system knows). Run with --help for usage.\n");
  EXPECT_EQ(result.out, "");
}

}  // namespace
}  // namespace tcp_server::testing
