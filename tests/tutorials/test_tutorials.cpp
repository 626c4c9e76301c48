// The README's section "The tutorials, in one command each", run: the real tcp_server and
// tcp_client binaries with exactly the commands shown there, except that the server listens on
// 127.0.0.1 port 0 (the kernel's choice, read back from its log) instead of 9090 or 8888, and
// the client is pointed at that port. A first test checks that the README still shows these
// commands, so the two cannot drift apart.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "subprocess.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;
using Command = std::vector<std::string>;

const Command kFirstServer{"tcp_server", "--port", "9090",    "--framing",           "chunk",
                           "--encoding", "gbk",    "--reply", "ok,问题正在处理中..."};
const Command kFirstClient{"tcp_client",      "send",
                           "--port",          "9090",
                           "--encoding",      "gbk",
                           "--clients",       "3",
                           "--message",       "客户端{id}正在连接",
                           "--reply-framing", "chunk",
                           "--no-newline"};
const Command kSecondServer{"tcp_server", "--port",  "8888",          "--framing",
                            "chunk",      "--reply", "收到客户端信息"};
const Command kSecondLockedServer{"tcp_server", "--port",     "8888",           "--framing",
                                  "chunk",      "--reply",    "收到客户端信息", "--max-connections",
                                  "1",          "--overflow", "defer"};
const Command kSecondClient{"tcp_client",      "send",  "--port",      "8888",
                            "--clients",       "3",     "--message",   "客户端{id}正在连接",
                            "--reply-framing", "chunk", "--no-newline"};

// As a shell shows it: arguments with anything but letters, digits and -_./:= single-quoted.
std::string shell_line(const Command& command) {
  std::string line = "$";
  for (const auto& arg : command) {
    const bool plain = std::all_of(arg.begin(), arg.end(), [](unsigned char c) {
      return std::isalnum(c) ||
             std::string_view("-_./:=").find(static_cast<char>(c)) != std::string_view::npos;
    });
    line += " " + (plain ? arg : "'" + arg + "'");
  }
  return line;
}

std::string readme_section() {
  std::ifstream in(TCP_SERVER_README);
  const std::string readme{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto start = readme.find("\n## The tutorials, in one command each\n");
  if (start == std::string::npos) return {};
  return readme.substr(start, readme.find("\n## ", start + 1) - start);
}

// The command with the real binary, on loopback and a port of the kernel's choosing (server)
// or that port (client).
Command runnable(Command command, std::uint16_t port = 0) {
  const bool server = command[0] == "tcp_server";
  command[0] = server ? TCP_SERVER_BINARY : TCP_CLIENT_BINARY;
  const auto flag = std::find(command.begin(), command.end(), "--port");
  flag[1] = std::to_string(port);
  if (server) command.insert(flag, {"--host", "127.0.0.1"});
  return command;
}

// Runs a tutorial's client against its server, then waits for the server to log every client's
// disconnect; returns the server's log.
std::string run_tutorial(const Command& server_command, const Command& client_command,
                         const std::string& reply) {
  Subprocess server(runnable(server_command));
  const std::uint16_t port = announced_port(server);
  const auto client = run_to_completion(runnable(client_command, port));
  EXPECT_EQ(client.status, 0) << client.err;
  for (int id = 1; id <= 3; ++id) {
    EXPECT_NE(client.out.find("client " + std::to_string(id) + ": " + reply + "\n"),
              std::string::npos)
        << client.out;
  }
  EXPECT_NE(client.out.find("3 clients, 3/3 replies, 0 clients failed"), std::string::npos)
      << client.out;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(server.wait_for_stdout_line(" disconnected after ", 10s)) << server.stdout_text();
  }
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_for_exit(10s), 0) << server.stderr_text();
  const std::string log = server.stdout_text();
  for (int id = 1; id <= 3; ++id) {
    // Each client's message, decoded from the wire encoding, under the client's address.
    EXPECT_TRUE(std::regex_search(
        log, std::regex("info 127\\.0\\.0\\.1:[0-9]+ 客户端" + std::to_string(id) + "正在连接\n")))
        << log;
  }
  return log;
}

TEST(Tutorials, TheReadmeShowsTheseCommands) {
  const std::string section = readme_section();
  ASSERT_NE(section, "") << "README.md has no section \"The tutorials, in one command each\"";
  for (const Command& command :
       {kFirstServer, kFirstClient, kSecondServer, kSecondLockedServer, kSecondClient}) {
    EXPECT_NE(section.find(shell_line(command) + "\n"), std::string::npos) << shell_line(command);
  }
}

TEST(Tutorials, FirstGbkBothWaysOneReplyPerRead) {
  run_tutorial(kFirstServer, kFirstClient, "ok,问题正在处理中...");
}

TEST(Tutorials, SecondUtf8) {
  run_tutorial(kSecondServer, kSecondClient, "收到客户端信息");
}

TEST(Tutorials, SecondLockOrderedServesOneClientAtATime) {
  const std::string log = run_tutorial(kSecondLockedServer, kSecondClient, "收到客户端信息");
  std::istringstream lines(log);
  int open = 0;
  int served = 0;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_search(line, std::regex(" connected$"))) {
      ++served;
      EXPECT_EQ(++open, 1) << log;
    } else if (line.find(" disconnected after ") != std::string::npos) {
      --open;
    }
  }
  EXPECT_EQ(served, 3) << log;
}

}  // namespace
}  // namespace tcp_server::testing
