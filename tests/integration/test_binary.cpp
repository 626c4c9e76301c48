// The real tcp_server executable as a subprocess: flags, errors, the announced port, signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "eventually.hpp"
#include "file_text.hpp"
#include "subprocess.hpp"
#include "tcp_server/listener.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = TCP_SERVER_BINARY;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(Binary, UnknownFlagGivesOneLineAndExitCodeTwo) {
  const auto result = run_to_completion({kBinary, "--bogus"});
  EXPECT_EQ(result.status, 2);
  EXPECT_EQ(count_lines(result.err), 1u) << result.err;
  EXPECT_NE(result.err.find("--bogus"), std::string::npos) << result.err;
  EXPECT_EQ(result.out, "");
}

TEST(Binary, BadOptionValuesGiveOneLineEach) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--port", "70000"},
                                               {"--port", "http"},
                                               {"--mode", "shout"},
                                               {"--reply", "bad\\q"},
                                               {"--idle-timeout", "soon"},
                                               {"--backlog", "0"},
                                               {"--max-line", "0"}}) {
    std::vector<std::string> argv{kBinary};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = run_to_completion(argv);
    EXPECT_EQ(result.status, 2) << args[0] << " " << args[1];
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find(args[0]), std::string::npos) << result.err;
  }
}

TEST(Binary, HelpDocumentsOptionsWithDefaults) {
  const auto result = run_to_completion({kBinary, "--help"});
  EXPECT_EQ(result.status, 0);
  for (const char* expected : {"--port", "9090", "--mode", "--reply", "--framing", "--max-line",
                               "--quiet", "--encoding", "--backlog", "--log-level"}) {
    EXPECT_NE(result.out.find(expected), std::string::npos) << expected;
  }
}

TEST(Binary, VersionPrintsNameAndVersion) {
  const auto result = run_to_completion({kBinary, "--version"});
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.out, std::string("tcp_server ") + TCP_SERVER_VERSION + "\n");
}

TEST(Binary, PortInUseSaysAddressAlreadyInUseWithTheAddress) {
  ListenOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  const Listener occupier = Listener::open(options);
  const std::string port = std::to_string(occupier.local_endpoint().port());
  const auto result = run_to_completion({kBinary, "--host", "127.0.0.1", "--port", port});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(lower(result.err).find("address already in use"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("127.0.0.1:" + port), std::string::npos) << result.err;
  EXPECT_EQ(count_lines(result.err), 1u) << result.err;
}

TEST(Binary, PortZeroAnnouncesTheChosenPortAndServesIt) {
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0"});
  const std::uint16_t port = announced_port(server);
  ASSERT_NE(port, 0);
  TestClient client(*Endpoint::from_ip("127.0.0.1", port));
  client.send("hello\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_TRUE(server.wait_for_stdout_line(client.local().to_string() + " hello", 10s));
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_for_exit(10s), 0) << server.stderr_text();
}

TEST(Binary, SigtermWithConnectedClientsExitsZeroAndClosesThem) {
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0"});
  const Endpoint endpoint = *Endpoint::from_ip("127.0.0.1", announced_port(server));
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<TestClient>(endpoint));
    clients.back()->send("hi\n");
    EXPECT_EQ(clients.back()->read_line(), "ok\n");
  }
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_for_exit(10s), 0) << server.stderr_text();
  for (auto& client : clients) EXPECT_TRUE(client->wait_for_close(1s));
  EXPECT_NE(server.stdout_text().find("received SIGTERM"), std::string::npos);
  EXPECT_NE(server.stdout_text().find("stopped after"), std::string::npos);
}

TEST(Binary, SigintExitsZeroToo) {
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0"});
  const Endpoint endpoint = *Endpoint::from_ip("127.0.0.1", announced_port(server));
  TestClient idle(endpoint);
  server.send_signal(SIGINT);
  EXPECT_EQ(server.wait_for_exit(10s), 0) << server.stderr_text();
  EXPECT_TRUE(idle.wait_for_close(1s));
}

TEST(Binary, Sigusr1LogsTheCounters) {
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0"});
  const Endpoint endpoint = *Endpoint::from_ip("127.0.0.1", announced_port(server));
  TestClient client(endpoint);
  client.send("one\ntwo\n");
  EXPECT_EQ(client.read_exactly(6), "ok\nok\n");
  server.send_signal(SIGUSR1);
  const auto stats = server.wait_for_stdout_line("stats: active 1", 10s);
  ASSERT_TRUE(stats) << server.stdout_text();
  EXPECT_NE(stats->find("messages 2"), std::string::npos) << *stats;
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_for_exit(10s), 0);
}

TEST(Binary, LogFileReceivesTheLogAndKeepsWhatWasThere) {
  char path[] = "/tmp/tcp_server_log_test_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "earlier run\n", 12), 12);
  ::close(fd);
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0", "--log-file", path});
  std::uint16_t port = 0;
  ASSERT_TRUE(eventually([&] {
    const std::string log = read_file(path);
    std::smatch match;
    if (!std::regex_search(log, match, std::regex(R"(listening on 127\.0\.0\.1:(\d+))"))) {
      return false;
    }
    port = static_cast<std::uint16_t>(std::stoi(match[1]));
    return true;
  }));
  TestClient client(*Endpoint::from_ip("127.0.0.1", port));
  client.send("into the file\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_for_exit(10s), 0) << server.stderr_text();
  const std::string log = read_file(path);
  ::unlink(path);
  EXPECT_EQ(log.rfind("earlier run\n", 0), 0u);
  EXPECT_NE(log.find(client.local().to_string() + " into the file"), std::string::npos) << log;
  EXPECT_NE(log.find("stopped after"), std::string::npos) << log;
  EXPECT_EQ(server.stdout_text(), "");
}

TEST(Binary, UnwritableLogFileIsAStartupError) {
  const auto result =
      run_to_completion({kBinary, "--port", "0", "--log-file", "/nonexistent/dir/log"});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(count_lines(result.err), 1u) << result.err;
  EXPECT_NE(result.err.find("/nonexistent/dir/log"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace tcp_server::testing

namespace tcp_server::testing {
namespace {

TEST(Binary, JsonLogFormatWritesOneObjectPerLine) {
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0", "--log-format", "json"});
  const auto listening = server.wait_for_stdout_line(R"("event":"listening")", 10s);
  ASSERT_TRUE(listening.has_value()) << server.stderr_text();
  std::smatch match;
  ASSERT_TRUE(
      std::regex_search(*listening, match, std::regex(R"re("address":"127\.0\.0\.1:(\d+)")re")));
  const auto port = static_cast<std::uint16_t>(std::stoi(match[1]));
  {
    TestClient client(*Endpoint::from_ip("127.0.0.1", port));
    client.send("hello\n");
    EXPECT_EQ(client.read_line(), "ok\n");
  }
  ASSERT_TRUE(server.wait_for_stdout_line(R"("event":"disconnected")", 10s));
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_for_exit(10s), 0);
  const std::regex object(
      R"re(^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d","level":"(info|warning)","event":"[a-z_]+"(,"[a-z_]+":("([^"\\]|\\.)*"|-?[0-9.]+|true|false|\{[^{}]*\}))*\}$)re");
  std::istringstream lines(server.stdout_text());
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    EXPECT_TRUE(std::regex_match(line, object)) << line;
  }
  EXPECT_GE(count, 6u);  // listening, connected, message, disconnected, signal, stopping, stats
}

}  // namespace
}  // namespace tcp_server::testing
