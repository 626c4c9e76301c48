// The real tcp_server executable with --config: the file's settings reach the running server,
// the command line wins, a bad file stops it before it listens.
#include <gtest/gtest.h>
#include <signal.h>

#include <unistd.h>

#include <fstream>

#include "subprocess.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = TCP_SERVER_BINARY;

class ConfigFileOnDisk {
 public:
  explicit ConfigFileOnDisk(const std::string& text) {
    const int fd = ::mkstemp(path_.data());
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
  }
  ~ConfigFileOnDisk() { ::unlink(path_.c_str()); }
  ConfigFileOnDisk(const ConfigFileOnDisk&) = delete;
  ConfigFileOnDisk& operator=(const ConfigFileOnDisk&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_ = "/tmp/tcp_server_config_it_XXXXXX";
};

TEST(BinaryConfigFile, TheServerRunsWithTheFilesSettingsAndTheCommandLineWins) {
  // The file says port 1; the command line's --port 0 must win (a kernel-chosen port is never 1).
  const ConfigFileOnDisk file(
      "host = \"127.0.0.1\"\nport = 1\nreply = \"from the file\"\nquiet = true\n");
  Subprocess server({kBinary, "--config", file.path(), "--port", "0"});
  const std::uint16_t port = announced_port(server);
  ASSERT_NE(port, 0) << server.stderr_text();
  EXPECT_NE(port, 1);
  TestClient client(*Endpoint::from_ip("127.0.0.1", port));
  client.send("hello\n");
  EXPECT_EQ(client.read_line(), "from the file\n");
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_for_exit(10s), 0) << server.stderr_text();
  // quiet = true: the payload is not logged.
  EXPECT_EQ(server.stdout_text().find(" hello"), std::string::npos) << server.stdout_text();
}

TEST(BinaryConfigFile, ABadFileStopsItWithOneLineAndExitCodeTwo) {
  const ConfigFileOnDisk file("port = 0\nreplyy = \"x\"\n");
  const auto result = run_to_completion({kBinary, "--config", file.path()});
  EXPECT_EQ(result.status, 2);
  EXPECT_EQ(result.err, "tcp_server: error: " + file.path() +
                            ":2: unknown option 'replyy'. Run with --help for usage.\n");
  EXPECT_EQ(result.out, "");
}

TEST(BinaryConfigFile, PrintConfigExitsZeroWithoutListening) {
  const auto result = run_to_completion({kBinary, "--port", "0", "--print-config"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("\nport=0\n"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("listening on"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace tcp_server::testing
