#include "subprocess.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <stdexcept>

#include "tcp_server/socket.hpp"

namespace tcp_server::testing {

namespace {

// The conventional unprivileged user (Debian's nobody/nogroup).
constexpr uid_t kNobodyUid = 65534;
constexpr gid_t kNobodyGid = 65534;

}  // namespace

bool Subprocess::can_run_as_nobody(const std::string& binary) {
  if (::geteuid() != 0) return false;
  // Every directory on the way and the file itself must let "other" search and execute.
  std::string path;
  for (std::size_t slash = binary.find('/', 1); slash != std::string::npos;
       slash = binary.find('/', slash + 1)) {
    struct stat status {};
    if (::stat(binary.substr(0, slash).c_str(), &status) != 0 || (status.st_mode & S_IXOTH) == 0) {
      return false;
    }
  }
  struct stat status {};
  return ::stat(binary.c_str(), &status) == 0 && (status.st_mode & S_IXOTH) != 0;
}

Subprocess::Subprocess(const std::vector<std::string>& argv, SubprocessOptions options)
    : after_first_line_(options.stdout_after_first_line) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t test_pid = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    if (options.nobody_thread_limit > 0) {
      // The limit first, while still root; it counts the user's processes and threads.
      const rlimit threads{static_cast<rlim_t>(options.nobody_thread_limit),
                           static_cast<rlim_t>(options.nobody_thread_limit)};
      if (::setrlimit(RLIMIT_NPROC, &threads) != 0 || ::setgroups(0, nullptr) != 0 ||
          ::setgid(kNobodyGid) != 0 || ::setuid(kNobodyUid) != 0) {
        ::_exit(126);
      }
    }
    // A test process that dies without running destructors (an ASan abort, a crash) must not
    // leave a server behind: the kernel kills the child when the forking thread ends. (Set after
    // setuid, which clears it.)
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != test_pid) ::_exit(127);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    // The test runner may block signals in its threads; the child must start clean.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (options.open_file_limit > 0) {
      const rlimit limit{static_cast<rlim_t>(options.open_file_limit),
                         static_cast<rlim_t>(options.open_file_limit)};
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  stdout_pipe_.reset(out[0]);
  stderr_pipe_.reset(err[0]);
  reader_ = std::thread([this] { drain_pipes(); });
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (reader_.joinable()) reader_.join();  // the pipes close once the child is gone
}

void Subprocess::drain_pipes() {
  char buffer[16 * 1024];
  bool open[2] = {true, true};
  int fds[2] = {stdout_pipe_.get(), stderr_pipe_.get()};
  while (open[0] || open[1]) {
    pollfd waiting[2] = {{open[0] ? fds[0] : -1, POLLIN, 0}, {open[1] ? fds[1] : -1, POLLIN, 0}};
    if (retry_on_eintr([&] { return ::poll(waiting, 2, -1); }) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (waiting[i].revents == 0) continue;
      const ssize_t n = retry_on_eintr([&] { return ::read(fds[i], buffer, sizeof buffer); });
      std::lock_guard lock(mutex_);
      if (n <= 0) {
        open[i] = false;
      } else {
        (i == 0 ? stdout_ : stderr_).append(buffer, static_cast<std::size_t>(n));
      }
      if (i == 0 && open[0] && after_first_line_ != StdoutAfterFirstLine::kKeepReading &&
          stdout_.find('\n') != std::string::npos) {
        // Keep only the first line: a test reads the port from it.
        stdout_.resize(stdout_.find('\n') + 1);
        open[0] = false;
        if (after_first_line_ == StdoutAfterFirstLine::kClose) stdout_pipe_.reset();
      }
      changed_.notify_all();
    }
  }
  std::lock_guard lock(mutex_);
  pipes_closed_ = true;
  changed_.notify_all();
}

std::optional<std::string> Subprocess::wait_for_stdout_line(const std::string& text,
                                                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  for (;;) {
    std::size_t end;
    while ((end = stdout_.find('\n', stdout_scanned_)) != std::string::npos) {
      std::string line = stdout_.substr(stdout_scanned_, end - stdout_scanned_);
      stdout_scanned_ = end + 1;
      if (line.find(text) != std::string::npos) return line;
    }
    if (pipes_closed_) return std::nullopt;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) return std::nullopt;
  }
}

void Subprocess::send_signal(int signal) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, signal);
}

std::optional<int> Subprocess::wait_for_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  {
    // Output is complete once the pipes close, which happens when the child exits.
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, deadline, [&] { return pipes_closed_; });
  }
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    // The pipes closed but the exit is not visible yet (or a grandchild holds them): look again
    // shortly; there is no fd to wait on for a child's exit without a SIGCHLD handler.
    ::poll(nullptr, 0, 5);
  }
}

std::string Subprocess::stdout_text() const {
  std::lock_guard lock(mutex_);
  return stdout_;
}

std::string Subprocess::stderr_text() const {
  std::lock_guard lock(mutex_);
  return stderr_;
}

std::uint16_t announced_port(Subprocess& server) {
  const auto line = server.wait_for_stdout_line("listening on", std::chrono::seconds(10));
  if (!line) throw std::runtime_error("no 'listening on' line; stderr: " + server.stderr_text());
  std::smatch match;
  if (!std::regex_search(*line, match, std::regex(R"(listening on 127\.0\.0\.1:(\d+))"))) {
    throw std::runtime_error("unexpected line: " + *line);
  }
  return static_cast<std::uint16_t>(std::stoi(match[1]));
}

Completed run_to_completion(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout) {
  Subprocess child(argv);
  const auto status = child.wait_for_exit(timeout);
  return {status.value_or(-1), child.stdout_text(), child.stderr_text()};
}

}  // namespace tcp_server::testing
