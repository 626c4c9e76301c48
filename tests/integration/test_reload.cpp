// SIGHUP on the real tcp_server binary: the --log-file reopened under the real logrotate, the
// --allow-file/--deny-file rules re-read, and neither a burst of signals, a drain in progress nor
// a signal sent while the server is still starting disturbs a client.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
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
const std::string kLogrotate = "/usr/sbin/logrotate";

// In one read: the tests poll growing logs of megabytes, and a character-by-character read is
// slow under the sanitizers (seconds for 25 MB under ASan).
std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

// The real binary logging to log_file; port() from its "listening on" line there.
class ServerProcess {
 public:
  ServerProcess(const std::string& log_file, std::vector<std::string> extra) {
    std::vector<std::string> argv{kBinary, "--host",     "127.0.0.1", "--port",
                                  "0",     "--log-file", log_file};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process = std::make_unique<Subprocess>(argv);
    log_file_ = log_file;
  }

  // Waits (bounded) for the listening line; throws with the server's stderr without it.
  Endpoint endpoint() {
    std::uint16_t port = 0;
    std::optional<int> exited;
    const bool listening = eventually([&] {
      exited = process->wait_for_exit(0ms);
      if (exited) return true;
      std::smatch match;
      const std::string log = read_file(log_file_);
      if (!std::regex_search(log, match, std::regex(R"(listening on 127\.0\.0\.1:(\d+))"))) {
        return false;
      }
      port = static_cast<std::uint16_t>(std::stoi(match[1]));
      return true;
    });
    if (exited) {
      throw std::runtime_error("the server exited with status " + std::to_string(*exited) +
                               "; stderr: " + process->stderr_text());
    }
    if (!listening)
      throw std::runtime_error("no listening line; stderr: " + process->stderr_text());
    return *Endpoint::from_ip("127.0.0.1", port);
  }

  std::unique_ptr<Subprocess> process;

 private:
  std::string log_file_;
};

// Clients that each send "c<id> m<n>" lines and read every "ok" back, until told to wind down
// and then `after` more lines each (or max_each in all: the bound). Errors are collected, not
// thrown, so the test can say what every client saw.
class BusyClients {
 public:
  BusyClients(const Endpoint& server, int count, int after, int max_each) : count_(count) {
    for (int id = 0; id < count; ++id) {
      threads_.emplace_back(
          [this, server, id, after, max_each] { run(server, id, after, max_each); });
    }
  }
  ~BusyClients() { finish(); }
  BusyClients(const BusyClients&) = delete;
  BusyClients& operator=(const BusyClients&) = delete;

  // Waits (bounded) until the clients have sent this many lines between them, and every client
  // at least one: on a loaded machine some threads start late, and a test that rotates the log
  // "while every client sends" must not rotate before they have.
  bool wait_for_sent(int total) {
    return eventually([&] { return sent_.load() >= total && clients_answered_.load() == count_; },
                      30s);
  }
  void wind_down() { winding_down_ = true; }
  void finish() {
    wind_down();
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }
  // Lines sent (and answered) by client id.
  [[nodiscard]] int sent_by(int id) const {
    std::lock_guard lock(mutex_);
    return sent_each_.at(id);
  }
  [[nodiscard]] std::vector<std::string> errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  void run(const Endpoint& server, int id, int after, int max_each) {
    int n = 0;
    try {
      TestClient client(server);
      int left_after = after;
      while (n < max_each && left_after > 0) {
        if (winding_down_.load()) --left_after;
        client.send("c" + std::to_string(id) + " m" + std::to_string(n) + "\n");
        const std::string reply = client.read_line();
        if (reply != "ok\n") throw std::runtime_error("reply '" + reply + "'");
        ++n;
        sent_.fetch_add(1);
        if (n == 1) clients_answered_.fetch_add(1);
      }
    } catch (const std::exception& error) {
      std::lock_guard lock(mutex_);
      errors_.push_back("client " + std::to_string(id) + " after " + std::to_string(n) +
                        " lines: " + error.what());
    }
    std::lock_guard lock(mutex_);
    sent_each_[id] = n;
  }

  const int count_;
  std::atomic<int> sent_{0};
  std::atomic<int> clients_answered_{0};  // clients that have had at least one line answered
  std::atomic<bool> winding_down_{false};
  mutable std::mutex mutex_;
  std::map<int, int> sent_each_;
  std::vector<std::string> errors_;
  std::vector<std::thread> threads_;
};

// client -> message numbers, in the order the log has them.
using LoggedMessages = std::map<int, std::vector<int>>;

// Parsed by hand rather than with std::regex, which is slow for a few hundred thousand
// lines under the sanitizers.
LoggedMessages logged_messages(const std::string& log) {
  LoggedMessages messages;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    // "... 127.0.0.1:PORT c<id> m<n>"
    const auto at = line.rfind(" c");
    int id = -1;
    int n = -1;
    char end = 0;
    if (at == std::string::npos ||
        std::sscanf(line.c_str() + at, " c%d m%d%c", &id, &n, &end) != 2) {
      continue;
    }
    messages[id].push_back(n);
  }
  return messages;
}

// Every line client id sent, 0..sent-1, is logged once, in order, across the files given in
// order (rotated first).
void expect_each_line_once(const BusyClients& clients, int count,
                           const std::vector<LoggedMessages>& files) {
  for (int id = 0; id < count; ++id) {
    std::vector<int> all;
    for (const LoggedMessages& file : files) {
      if (const auto it = file.find(id); it != file.end()) {
        all.insert(all.end(), it->second.begin(), it->second.end());
      }
    }
    const int sent = clients.sent_by(id);
    ASSERT_EQ(all.size(), static_cast<std::size_t>(sent)) << "client " << id;
    for (int n = 0; n < sent; ++n) {
      ASSERT_EQ(all[static_cast<std::size_t>(n)], n) << "client " << id << ", line " << n;
    }
  }
}

TEST(Reload, LogrotateCreateModeLosesAndDuplicatesNoLineOf20BusyClients) {
  ASSERT_EQ(::access(kLogrotate.c_str(), X_OK), 0)
      << kLogrotate << " is missing: scripts/setup --test installs it";
  TempDir dir;
  const std::string log = dir.path("server.log");
  ServerProcess server(log, {});
  const Endpoint endpoint = server.endpoint();

  // logrotate's default mode: move the log aside, create a new one, then tell the server.
  const std::string config = dir.write("logrotate.conf", log +
                                                             " {\n"
                                                             "  create\n"
                                                             "  rotate 1\n"
                                                             "  missingok\n"
                                                             "  nocompress\n"
                                                             "  postrotate\n"
                                                             "    kill -HUP " +
                                                             std::to_string(server.process->pid()) +
                                                             "\n"
                                                             "  endscript\n"
                                                             "}\n");
  constexpr int kClients = 20;
  BusyClients clients(endpoint, kClients, /*after=*/100, /*max_each=*/20'000);
  ASSERT_TRUE(clients.wait_for_sent(kClients * 20));
  const Completed rotated =
      run_to_completion({kLogrotate, "-f", "-s", dir.path("logrotate.state"), config});
  ASSERT_EQ(rotated.status, 0) << rotated.out << rotated.err;
  // The reopened line is the first the new file can get: lines from now on land there.
  EXPECT_TRUE(file_contains(log, "reload: log file: reopened " + log)) << read_file(log);
  clients.wind_down();
  clients.finish();
  EXPECT_TRUE(clients.errors().empty()) << clients.errors().front();

  server.process->send_signal(SIGTERM);
  ASSERT_EQ(server.process->wait_for_exit(20s), 0) << server.process->stderr_text();
  const std::string old_text = read_file(log + ".1");
  const std::string new_text = read_file(log);
  ASSERT_FALSE(old_text.empty()) << "logrotate did not rotate";
  EXPECT_EQ(old_text.back(), '\n');
  EXPECT_NE(old_text.find("listening on"), std::string::npos);
  EXPECT_EQ(old_text.find("reopened"), std::string::npos);
  EXPECT_NE(new_text.find("stopped after"), std::string::npos);
  const LoggedMessages before = logged_messages(old_text);
  const LoggedMessages after = logged_messages(new_text);
  EXPECT_EQ(before.size(), static_cast<std::size_t>(kClients)) << "every client logged before";
  EXPECT_EQ(after.size(), static_cast<std::size_t>(kClients)) << "every client logged after";
  expect_each_line_once(clients, kClients, {before, after});
}

TEST(Reload, ALogFileThatCannotBeReopenedKeepsTheOldOneAndSaysWhy) {
  TempDir dir;
  std::filesystem::create_directory(dir.path("logs"));
  const std::string log = dir.path("logs/server.log");
  ServerProcess server(log, {});
  const Endpoint endpoint = server.endpoint();
  // The directory goes away (no mkdir -p on a reopen): the file stays open where it moved.
  std::filesystem::rename(dir.path("logs"), dir.path("moved"));
  const std::string moved = dir.path("moved/server.log");
  server.process->send_signal(SIGHUP);
  ASSERT_TRUE(file_contains(moved, "reload failed: log file: cannot reopen " + log +
                                       ": No such file or directory; still writing to the file "
                                       "opened before"))
      << read_file(moved);
  TestClient client(endpoint);
  client.send("still logged\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_TRUE(file_contains(moved, client.local().to_string() + " still logged"));
  // Once the path can be opened again, the next SIGHUP moves there.
  std::filesystem::create_directory(dir.path("logs"));
  server.process->send_signal(SIGHUP);
  ASSERT_TRUE(file_contains(log, "reload: log file: reopened " + log));
  client.send("in the new file\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_TRUE(file_contains(log, client.local().to_string() + " in the new file"));
  server.process->send_signal(SIGTERM);
  EXPECT_EQ(server.process->wait_for_exit(20s), 0) << server.process->stderr_text();
  EXPECT_EQ(read_file(moved).find("in the new file"), std::string::npos);
}

TEST(Reload, AnEditedDenyFileRefusesNewClientsFromTheAddressAndLeavesConnectedOnesServed) {
  TempDir dir;
  const std::string deny = dir.write("deny", "# nobody yet\n");
  const std::string log = dir.path("server.log");
  ServerProcess server(log, {"--deny-file", deny, "--reject-message", "denied\\n"});
  const Endpoint endpoint = server.endpoint();
  const Endpoint neighbour = *Endpoint::from_ip("127.0.0.2", 0);

  TestClient connected(endpoint, neighbour);
  connected.send("before\n");
  EXPECT_EQ(connected.read_line(), "ok\n");

  dir.write("deny", "# nobody yet\n127.0.0.2\n");
  server.process->send_signal(SIGHUP);
  ASSERT_TRUE(file_contains(log, "reload: access rules: 0 allow networks and 1 deny network"))
      << read_file(log);
  TestClient refused(endpoint, neighbour);
  EXPECT_EQ(refused.read_line(), "denied\n");
  EXPECT_TRUE(refused.wait_for_close());
  EXPECT_TRUE(file_contains(
      log, refused.local().to_string() + " rejected: denied (denied by 127.0.0.2/32)"));
  TestClient other(endpoint, *Endpoint::from_ip("127.0.0.3", 0));
  other.send("still welcome\n");
  EXPECT_EQ(other.read_line(), "ok\n");
  // Admitted under the old rules: left alone.
  connected.send("after\n");
  EXPECT_EQ(connected.read_line(), "ok\n");

  // And back: the rules can be relaxed the same way.
  dir.write("deny", "\n");
  server.process->send_signal(SIGHUP);
  ASSERT_TRUE(file_contains(log, "reload: access rules: 0 allow networks and 0 deny networks"));
  TestClient readmitted(endpoint, neighbour);
  readmitted.send("back\n");
  EXPECT_EQ(readmitted.read_line(), "ok\n");

  server.process->send_signal(SIGTERM);
  EXPECT_EQ(server.process->wait_for_exit(20s), 0) << server.process->stderr_text();
}

TEST(Reload, ABrokenOrMissingListKeepsTheOldRulesAndSaysWhichFileAndLine) {
  TempDir dir;
  const std::string deny = dir.write("deny", "127.0.0.2\n");
  const std::string log = dir.path("server.log");
  ServerProcess server(log, {"--deny-file", deny});
  const Endpoint endpoint = server.endpoint();
  const Endpoint denied = *Endpoint::from_ip("127.0.0.2", 0);
  const Endpoint other = *Endpoint::from_ip("127.0.0.3", 0);

  // Would deny 127.0.0.3 instead, if line 3 did not stop it.
  dir.write("deny", "# edited\n127.0.0.3\n127.0.0.300\n");
  server.process->send_signal(SIGHUP);
  ASSERT_TRUE(file_contains(log, "reload failed: access rules: " + deny +
                                     ":3: '127.0.0.300' is not an IPv4 or IPv6 address or "
                                     "network; the old rules stay"))
      << read_file(log);
  TestClient still_refused(endpoint, denied);
  EXPECT_TRUE(still_refused.wait_for_close());
  TestClient still_served(endpoint, other);
  still_served.send("hello\n");
  EXPECT_EQ(still_served.read_line(), "ok\n");

  std::filesystem::remove(deny);
  server.process->send_signal(SIGHUP);
  ASSERT_TRUE(file_contains(log, "reload failed: access rules: cannot read " + deny +
                                     ": No such file or directory; the old rules stay"));
  TestClient refused_again(endpoint, denied);
  EXPECT_TRUE(refused_again.wait_for_close());
  EXPECT_TRUE(file_contains(log, refused_again.local().to_string() + " rejected: denied"));
  EXPECT_EQ(server.process->wait_for_exit(0ms), std::nullopt);
  server.process->send_signal(SIGTERM);
  EXPECT_EQ(server.process->wait_for_exit(20s), 0) << server.process->stderr_text();
}

TEST(Reload, AHundredSighupsInABurstAndFiftyRotationsWhileClientsAreServedDropNothing) {
  TempDir dir;
  const std::string deny = dir.write("deny", "192.0.2.0/24\n");
  const std::string log = dir.path("server.log");
  ServerProcess server(log, {"--deny-file", deny});
  const Endpoint endpoint = server.endpoint();
  constexpr int kClients = 10;
  constexpr int kRotations = 50;
  BusyClients clients(endpoint, kClients, /*after=*/50, /*max_each=*/20'000);
  ASSERT_TRUE(clients.wait_for_sent(kClients * 20));
  // A burst: signals that arrive while one is pending merge into it (signal(7)).
  for (int i = 0; i < 100; ++i) server.process->send_signal(SIGHUP);
  ASSERT_TRUE(file_contains(log, "reload: log file: reopened"));
  // Then one rotation after another, each reopen awaited, while the clients keep sending.
  std::vector<std::string> files;
  for (int i = 1; i <= kRotations; ++i) {
    files.push_back(log + "." + std::to_string(i));
    std::filesystem::rename(log, files.back());
    server.process->send_signal(SIGHUP);
    ASSERT_TRUE(file_contains(log, "reload: log file: reopened")) << "rotation " << i;
  }
  files.push_back(log);
  clients.wind_down();
  clients.finish();
  EXPECT_TRUE(clients.errors().empty()) << clients.errors().front();
  EXPECT_EQ(server.process->wait_for_exit(0ms), std::nullopt) << "the server stopped";
  // Every connection ended because its client closed it, none by the server.
  EXPECT_TRUE(eventually([&] {
    return occurrences(read_file(log), "disconnected after") == static_cast<std::size_t>(kClients);
  }));
  EXPECT_EQ(occurrences(read_file(log), "(peer closed)"), static_cast<std::size_t>(kClients));

  server.process->send_signal(SIGTERM);
  ASSERT_EQ(server.process->wait_for_exit(20s), 0) << server.process->stderr_text();
  std::vector<LoggedMessages> logged;
  std::size_t reopened = 0;
  std::size_t rules_reloaded = 0;
  for (const std::string& file : files) {
    const std::string text = read_file(file);
    logged.push_back(logged_messages(text));
    reopened += occurrences(text, "reload: log file: reopened");
    rules_reloaded +=
        occurrences(text, "reload: access rules: 0 allow networks and 1 deny network");
    EXPECT_EQ(occurrences(text, "reload failed"), 0u) << file;
  }
  EXPECT_GE(reopened, 1u + kRotations);
  EXPECT_LE(reopened, 100u + kRotations);
  EXPECT_EQ(rules_reloaded, reopened);
  expect_each_line_once(clients, kClients, logged);
}

TEST(Reload, SighupDuringTheDrainReopensTheLogAndStopsNothing) {
  TempDir dir;
  const std::string log = dir.path("server.log");
  ServerProcess server(log, {"--drain-timeout", "20s"});
  TestClient client(server.endpoint());
  client.send("half");  // mid-message: the drain waits for the rest of the line
  ASSERT_TRUE(file_contains(log, "connected"));
  server.process->send_signal(SIGTERM);
  ASSERT_TRUE(file_contains(log, "stopping"));
  std::filesystem::rename(log, log + ".1");
  server.process->send_signal(SIGHUP);
  ASSERT_TRUE(file_contains(log, "reload: log file: reopened")) << read_file(log + ".1");
  client.send(" and the rest\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_EQ(server.process->wait_for_exit(20s), 0) << server.process->stderr_text();
  const std::string text = read_file(log);
  EXPECT_NE(text.find("half and the rest"), std::string::npos) << text;
  EXPECT_NE(text.find("stopped after"), std::string::npos) << text;
}

TEST(Reload, ASighupSentWhileTheServerIsStillStartingWaitsForItInsteadOfKillingIt) {
  TempDir dir;
  // The allow list is a FIFO: the server's open() of it, while it parses its arguments (long
  // before it watches signals), waits for a writer. A writer's open therefore says exactly
  // where the server is.
  const std::string allow = dir.path("allow");
  ASSERT_EQ(::mkfifo(allow.c_str(), 0600), 0);
  const auto feed = [&](const std::string& text) {
    UniqueFd writer;
    // O_NONBLOCK: fails (ENXIO) until a reader has the FIFO open, so the wait is bounded.
    const bool opened = eventually([&] {
      writer.reset(::open(allow.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
      return writer.valid();
    });
    return opened &&
           ::write(writer.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  };
  const std::string log = dir.path("server.log");
  ServerProcess server(log, {"--allow-file", allow});
  // The server is inside main(), reading its arguments: SIGHUP's default action would end it.
  UniqueFd writer;
  ASSERT_TRUE(eventually([&] {
    writer.reset(::open(allow.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    return writer.valid();
  }));
  server.process->send_signal(SIGHUP);
  const std::string list = "127.0.0.0/8\n";
  ASSERT_EQ(::write(writer.get(), list.data(), list.size()), static_cast<ssize_t>(list.size()));
  writer.reset();
  const Endpoint endpoint = server.endpoint();  // alive, and serving
  // The pending signal is a reload once the server watches: it reads the list again.
  ASSERT_TRUE(feed(list));
  EXPECT_TRUE(file_contains(log, "reload: access rules: 1 allow network and 0 deny networks"))
      << read_file(log) << server.process->stderr_text();
  TestClient client(endpoint);
  client.send("hi\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  server.process->send_signal(SIGTERM);
  EXPECT_EQ(server.process->wait_for_exit(20s), 0) << server.process->stderr_text();
}

TEST(Reload, HelpAndSoTheManPageSayWhatSighupDoes) {
  const Completed help = run_to_completion({kBinary, "--help"});
  ASSERT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("SIGHUP reopens --log-file"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("re-reads --allow-file, --deny-file, --reply-file and --rules"),
            std::string::npos);
}

}  // namespace
}  // namespace tcp_server::testing
