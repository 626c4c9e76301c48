#include "client_cli.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace tcp_server::client {
namespace {

using namespace std::chrono_literals;

struct Parsed {
  ClientCommandLine command_line;
  std::string out;
  std::string err;
};

Parsed parse(std::vector<std::string> args) {
  args.insert(args.begin(), "tcp_client");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream err;
  Parsed parsed{
      parse_client_command_line(static_cast<int>(argv.size()), argv.data(), out, err), {}, {}};
  parsed.out = out.str();
  parsed.err = err.str();
  return parsed;
}

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(ClientCli, SendDefaultsAndTemplate) {
  const auto parsed = parse({"send", "--port", "9000", "-n", "3", "-m", "client {id}\\t!"});
  ASSERT_EQ(parsed.command_line.command, Command::kSend) << parsed.err;
  const SendOptions& send = parsed.command_line.send;
  EXPECT_EQ(send.target.host, "127.0.0.1");
  EXPECT_EQ(send.target.port, 9000);
  EXPECT_EQ(send.clients, 3u);
  EXPECT_EQ(send.count, 1u);
  EXPECT_EQ(send.message, "client {id}\t!");
  EXPECT_TRUE(send.append_newline);
  EXPECT_EQ(send.timeout, 5s);
}

TEST(ClientCli, SendEncodesTheMessageInTheServersEncoding) {
  const auto parsed = parse({"send", "--message", "客户端{id}正在连接", "--encoding", "gbk",
                             "--reply-framing", "chunk", "--no-newline"});
  ASSERT_EQ(parsed.command_line.command, Command::kSend) << parsed.err;
  const SendOptions& send = parsed.command_line.send;
  EXPECT_EQ(send.encoding, TextEncoding::named("gbk"));
  EXPECT_EQ(send.message, "\xbf\xcd\xbb\xa7\xb6\xcb{id}\xd5\xfd\xd4\xda\xc1\xac\xbd\xd3");
  EXPECT_FALSE(send.append_newline);
  EXPECT_EQ(send.reply_framing, ReplyFraming::kChunk);
}

TEST(ClientCli, SendEncodingErrorsSayWhy) {
  const auto unknown = parse({"send", "--encoding", "klingon"});
  EXPECT_EQ(unknown.command_line.exit_code, 2);
  EXPECT_NE(unknown.err.find("--encoding: unknown encoding 'klingon'"), std::string::npos)
      << unknown.err;
  const auto unencodable = parse({"send", "--encoding", "iso-8859-1", "--message", "你好"});
  EXPECT_EQ(unencodable.command_line.exit_code, 2);
  EXPECT_EQ(unencodable.err,
            "tcp_client: error: --message: cannot encode '你' (U+4F60), character 1, in "
            "ISO-8859-1. Run with --help for usage.\n");
}

TEST(ClientCli, BenchOptionsAndEcho) {
  const auto parsed = parse({"bench", "--mode", "churn", "--concurrency", "20", "-d", "2s",
                             "--message", "PING\\r\\n", "--echo", "--json"});
  ASSERT_EQ(parsed.command_line.command, Command::kBench) << parsed.err;
  const BenchOptions& bench = parsed.command_line.bench;
  EXPECT_EQ(bench.mode, BenchMode::kChurn);
  EXPECT_EQ(bench.concurrency, 20u);
  EXPECT_EQ(bench.duration, 2s);
  EXPECT_EQ(bench.message, "PING\r\n");
  EXPECT_EQ(bench.expect, "PING\r\n");
  EXPECT_TRUE(bench.json);
}

TEST(ClientCli, BenchExpectDefaultsToTcpServersDefaultReply) {
  const auto parsed = parse({"bench"});
  ASSERT_EQ(parsed.command_line.command, Command::kBench) << parsed.err;
  EXPECT_EQ(parsed.command_line.bench.expect, "ok\n");
  EXPECT_EQ(parsed.command_line.bench.message, "hello\n");
}

TEST(ClientCli, BadInputGivesOneLineAndExitCodeTwo) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                               {"shout"},
                                               {"send", "--clients", "0"},
                                               {"send", "--port", "70000"},
                                               {"send", "--message", "bad\\q"},
                                               {"send", "--encoding", "utf-16"},
                                               {"bench", "--mode", "flood"},
                                               {"bench", "--duration", "2h"},
                                               {"bench", "--duration", "0"},
                                               {"bench", "--expect", ""},
                                               {"chat", "--timeout", "soon"}}) {
    const auto parsed = parse(args);
    EXPECT_EQ(parsed.command_line.command, Command::kNone);
    EXPECT_EQ(parsed.command_line.exit_code, 2) << parsed.err;
    EXPECT_EQ(lines(parsed.err), 1u) << parsed.err;
    EXPECT_EQ(parsed.err.rfind("tcp_client: error: ", 0), 0u) << parsed.err;
  }
}

TEST(ClientCli, TlsOptionsLandInEachCommand) {
  const auto send = parse({"send", "--tls", "--tls-ca", "ca.pem", "--tls-server-name",
                           "example.org", "--tls-cert", "c.pem", "--tls-key", "c.key"});
  ASSERT_EQ(send.command_line.command, Command::kSend) << send.err;
  const TlsClientOptions& tls = send.command_line.send.tls;
  EXPECT_TRUE(tls.enabled);
  EXPECT_EQ(tls.ca_file, "ca.pem");
  EXPECT_EQ(tls.server_name, "example.org");
  EXPECT_EQ(tls.cert_file, "c.pem");
  EXPECT_EQ(tls.key_file, "c.key");
  EXPECT_FALSE(tls.insecure);
  const auto chat = parse({"chat", "--tls", "--tls-insecure"});
  ASSERT_EQ(chat.command_line.command, Command::kChat) << chat.err;
  EXPECT_TRUE(chat.command_line.chat.tls.insecure);
  const std::string pin(64, 'a');
  const auto bench = parse({"bench", "--mode", "churn", "--tls", "--tls-pin", pin, "--tls-resume"});
  ASSERT_EQ(bench.command_line.command, Command::kBench) << bench.err;
  EXPECT_EQ(bench.command_line.bench.tls.pin, pin);
  EXPECT_TRUE(bench.command_line.bench.tls.resume);
  EXPECT_FALSE(parse({"send"}).command_line.send.tls.enabled);
}

TEST(ClientCli, TlsMistakesGiveOneLineAndExitCodeTwo) {
  const std::string pin(64, 'a');
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"send", "--tls-ca", "ca.pem"},  // forgot --tls
        {"send", "--tls", "--tls-pin", "abcd"},
        {"send", "--tls", "--tls-pin", std::string(63, 'a') + "g"},
        {"send", "--tls", "--tls-insecure", "--tls-pin", pin},
        {"send", "--tls", "--tls-insecure", "--tls-ca", "ca.pem"},
        {"send", "--tls", "--tls-pin", pin, "--tls-ca", "ca.pem"},
        {"send", "--tls", "--tls-cert", "c.pem"},
        {"chat", "--tls", "--tls-key", "c.key"},
        {"send", "--tls", "--tls-resume"},
        {"bench", "--tls-resume"}}) {
    const auto parsed = parse(args);
    EXPECT_EQ(parsed.command_line.command, Command::kNone) << args.back();
    EXPECT_EQ(parsed.command_line.exit_code, 2) << parsed.err;
    EXPECT_EQ(lines(parsed.err), 1u) << parsed.err;
  }
  const auto bad_pin = parse({"send", "--tls", "--tls-pin", "abcd"});
  EXPECT_NE(bad_pin.err.find("'abcd' is not a SHA-256 fingerprint"), std::string::npos)
      << bad_pin.err;
}

TEST(ClientCli, HelpPrintsEachCommandAndExitsZero) {
  const auto parsed = parse({"--help"});
  EXPECT_EQ(parsed.command_line.command, Command::kNone);
  EXPECT_EQ(parsed.command_line.exit_code, 0);
  for (const char* command : {"send", "chat", "bench"}) {
    EXPECT_NE(parsed.out.find(command), std::string::npos) << parsed.out;
  }
}

}  // namespace
}  // namespace tcp_server::client
