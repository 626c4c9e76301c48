#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tcp_server/unique_fd.hpp"

namespace tcp_server::testing {

// What the reader does with the child's stdout once its first line has arrived.
enum class StdoutAfterFirstLine {
  kKeepReading,
  kStopReading,  // a stalled log reader: the pipe fills and the child's writes would block
  kClose,        // a vanished log reader (`| head -1`): the child's writes fail with EPIPE
};

struct SubprocessOptions {
  // > 0: the child's soft and hard RLIMIT_NOFILE.
  long open_file_limit = 0;
  StdoutAfterFirstLine stdout_after_first_line = StdoutAfterFirstLine::kKeepReading;
  // > 0: the child runs as the unprivileged user nobody, whose processes and threads
  // RLIMIT_NPROC then holds to this many (root is exempt from it). Needs root; see
  // can_run_as_nobody().
  long nobody_thread_limit = 0;
};

// A child process (the real tcp_server binary) with stdout and stderr on pipes that a reader
// thread drains continuously, so a chatty child never blocks on a full pipe. Every wait is
// bounded. The destructor kills (SIGKILL) and reaps a child still running, so a failing test
// never leaves a server behind; it only ever signals the pid it started.
class Subprocess {
 public:
  explicit Subprocess(const std::vector<std::string>& argv, SubprocessOptions options = {});
  // The test process may start a child as nobody (it is root, and nobody can run argv[0]).
  static bool can_run_as_nobody(const std::string& binary);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // The next stdout line (after the last one this returned) containing text; nullopt on
  // timeout or when stdout closes first.
  std::optional<std::string> wait_for_stdout_line(const std::string& text,
                                                  std::chrono::milliseconds timeout);
  void send_signal(int signal);
  // Exit status (or 128 + signal); nullopt when it has not exited within timeout.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);

  [[nodiscard]] std::string stdout_text() const;
  [[nodiscard]] std::string stderr_text() const;
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  void drain_pipes();

  pid_t pid_ = -1;
  bool reaped_ = false;
  StdoutAfterFirstLine after_first_line_;
  UniqueFd stdout_pipe_;
  UniqueFd stderr_pipe_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string stdout_;
  std::string stderr_;
  bool pipes_closed_ = false;
  std::size_t stdout_scanned_ = 0;
  std::thread reader_;
};

// Starts the server binary's output scan: the port from its "listening on 127.0.0.1:N" line.
// Throws with the child's stderr when the line does not come.
std::uint16_t announced_port(Subprocess& server);

// Runs argv to completion (bounded), returning {exit status, stdout, stderr}.
struct Completed {
  int status = -1;
  std::string out;
  std::string err;
};
Completed run_to_completion(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace tcp_server::testing
