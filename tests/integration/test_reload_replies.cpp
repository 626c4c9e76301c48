// SIGHUP on the real tcp_server binary re-reads --rules and --reply-file: a client connected
// before the reload keeps the answers it started with, a client that connects after it gets the
// new ones, and a file that cannot be read or parsed keeps what was in force and says why.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "eventually.hpp"
#include "file_text.hpp"
#include "subprocess.hpp"
#include "temp_dir.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = TCP_SERVER_BINARY;

// The real binary logging to log_file, on a port of the kernel's choosing.
class ServerProcess {
 public:
  ServerProcess(std::string log_file, const std::vector<std::string>& extra)
      : log_file_(std::move(log_file)) {
    std::vector<std::string> argv{kBinary, "--host",     "127.0.0.1", "--port",
                                  "0",     "--log-file", log_file_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<Subprocess>(argv);
  }
  ~ServerProcess() {
    if (!process_->wait_for_exit(0ms)) process_->send_signal(SIGKILL);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Waits (bounded) for the listening line; throws with the server's stderr without it.
  Endpoint endpoint() {
    std::uint16_t port = 0;
    std::optional<int> exited;
    const bool listening = eventually([&] {
      exited = process_->wait_for_exit(0ms);
      if (exited) return true;
      std::smatch match;
      const std::string log = read_file(log_file_);
      if (!std::regex_search(log, match, std::regex(R"(listening on 127\.0\.0\.1:(\d+))"))) {
        return false;
      }
      port = static_cast<std::uint16_t>(std::stoi(match[1]));
      return true;
    });
    if (exited || !listening) {
      throw std::runtime_error("the server did not start; stderr: " + process_->stderr_text());
    }
    return *Endpoint::from_ip("127.0.0.1", port);
  }

  void reload() { process_->send_signal(SIGHUP); }
  // SIGTERM, then the exit status (nullopt when it did not exit in time).
  std::optional<int> stop() {
    process_->send_signal(SIGTERM);
    return process_->wait_for_exit(20s);
  }
  [[nodiscard]] std::string stderr_text() const { return process_->stderr_text(); }

 private:
  std::string log_file_;
  std::unique_ptr<Subprocess> process_;
};

// One message and its answer, on a client's connection.
std::string ask(TestClient& client, const std::string& line) {
  client.send(line + "\n");
  return client.read_line();
}

TEST(Reload, EditedRulesAnswerNewClientsWhileAConnectedOneKeepsItsRules) {
  TempDir dir;
  const std::string rules = dir.write("answers.rules", "ping => old pong\n");
  const std::string log = dir.path("server.log");
  ServerProcess server(log, {"--rules", rules, "--reply", "fallback"});
  const Endpoint endpoint = server.endpoint();

  // Answered once: its connection (and so its rules) exists before the reload.
  TestClient connected(endpoint);
  ASSERT_EQ(ask(connected, "ping"), "old pong\n");

  dir.write("answers.rules", "ping => new pong\nhello (\\w+) => hi $1\n");
  server.reload();
  ASSERT_TRUE(file_contains(
      log, "reload: rules: 2 rules from " + rules + ", for clients that connect from now on"))
      << read_file(log);
  TestClient after(endpoint);
  EXPECT_EQ(ask(after, "ping"), "new pong\n");
  EXPECT_EQ(ask(after, "hello you"), "hi you\n");
  EXPECT_EQ(ask(after, "other"), "fallback\n");
  EXPECT_EQ(ask(connected, "ping"), "old pong\n") << "a connected client keeps its rules";
  EXPECT_EQ(ask(connected, "hello you"), "fallback\n");

  // A regex that does not compile, on line 3: nothing of the file is taken.
  dir.write("answers.rules", "ping => broken pong\n# a comment\nhello (unclosed => x\n");
  server.reload();
  ASSERT_TRUE(file_contains(log, "reload failed: rules: " + rules + ":3: ")) << read_file(log);
  EXPECT_TRUE(file_contains(log, "; the old rules stay"));
  TestClient still_new(endpoint);
  EXPECT_EQ(ask(still_new, "ping"), "new pong\n");

  std::filesystem::remove(rules);
  server.reload();
  ASSERT_TRUE(file_contains(log, "reload failed: rules: " + rules)) << read_file(log);
  TestClient after_missing(endpoint);
  EXPECT_EQ(ask(after_missing, "hello there"), "hi there\n");
  EXPECT_EQ(ask(connected, "ping"), "old pong\n");

  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

TEST(Reload, AnEditedReplyFileIsSentToNewClientsAndABadOneKeepsTheOldReply) {
  TempDir dir;
  const std::string reply = dir.write("reply.txt", "first\r\n");
  const std::string log = dir.path("server.log");
  ServerProcess server(log, {"--reply-file", reply});
  const Endpoint endpoint = server.endpoint();

  TestClient connected(endpoint);
  ASSERT_EQ(ask(connected, "a"), "first\r\n");

  dir.write("reply.txt", "the second reply\n");
  server.reload();
  ASSERT_TRUE(file_contains(
      log, "reload: reply file: 17 bytes from " + reply + ", for clients that connect from now on"))
      << read_file(log);
  TestClient after(endpoint);
  EXPECT_EQ(ask(after, "b"), "the second reply\n") << "the file's bytes, no newline added";
  EXPECT_EQ(ask(connected, "c"), "first\r\n") << "a connected client keeps its reply";

  dir.write("reply.txt", "");
  server.reload();
  ASSERT_TRUE(file_contains(
      log, "reload failed: reply file: " + reply + ": the file is empty; the old reply stays"))
      << read_file(log);
  std::filesystem::remove(reply);
  server.reload();
  ASSERT_TRUE(file_contains(log, "reload failed: reply file: " + reply +
                                     ": No such file or directory; the old reply stays"))
      << read_file(log);
  // A pipe would block the reload (and every signal after it) until written to: refused.
  ASSERT_EQ(::mkfifo(reply.c_str(), 0600), 0);
  server.reload();
  ASSERT_TRUE(file_contains(log, "reload failed: reply file: " + reply +
                                     ": not a regular file, not read again; the old reply stays"))
      << read_file(log);
  TestClient still_second(endpoint);
  EXPECT_EQ(ask(still_second, "d"), "the second reply\n");
  EXPECT_EQ(ask(connected, "e"), "first\r\n");

  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

}  // namespace
}  // namespace tcp_server::testing
