#include "tcp_server/log_buffer.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/pattern_formatter.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace tcp_server {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::uint64_t count_lines(std::string_view bytes) {
  return static_cast<std::uint64_t>(std::count(bytes.begin(), bytes.end(), '\n'));
}

// How long one poll() for writability lasts, so that closing is noticed promptly.
constexpr int kWritablePollMs = 50;
// After a batch, the writer collects the next for this long before writing it, rather than
// being woken for every line: a busy server then costs one wake-up per this period instead of
// one per line (on 2 cores the wake-ups were what made payload logging slow). A quiet log is
// not delayed: a writer that found nothing in its linger sleeps until the next line wakes it.
// Short enough for `tail -f`.
constexpr auto kLinger = std::chrono::milliseconds(5);

}  // namespace

// The destination, written without ever blocking the writer for good.
class LogBuffer::Destination {
 public:
  explicit Destination(UniqueFd fd) {
    struct stat status {};
    if (::fstat(fd.get(), &status) == 0) {
      is_socket_ = S_ISSOCK(status.st_mode);
      if (S_ISFIFO(status.st_mode) || S_ISCHR(status.st_mode)) {
        // A new open file description of the same pipe or terminal, non-blocking. Setting
        // O_NONBLOCK on the inherited one would change it for every process that shares it
        // (the shell's terminal, for one).
        UniqueFd reopened(::open(fmt::format("/proc/self/fd/{}", fd.get()).c_str(),
                                 O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
        if (reopened) {
          fd = std::move(reopened);
        } else {
          // No /proc: poll before each write and write at most PIPE_BUF bytes, which a pipe
          // that polls writable takes without blocking.
          poll_first_ = true;
        }
      }
    }
    fd_ = std::move(fd);
  }

  // Bytes written, or -1 with errno set (EAGAIN when it would block).
  ssize_t write_some(std::string_view bytes) const {
    if (is_socket_) {
      return ::send(fd_.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (poll_first_) {
      if (!wait_writable(0)) {
        errno = EAGAIN;
        return -1;
      }
      bytes = bytes.substr(0, PIPE_BUF);
    }
    return ::write(fd_.get(), bytes.data(), bytes.size());
  }

  bool wait_writable(int timeout_ms) const {
    pollfd waiting{fd_.get(), POLLOUT, 0};
    return ::poll(&waiting, 1, timeout_ms) > 0;
  }

 private:
  UniqueFd fd_;
  bool is_socket_ = false;
  bool poll_first_ = false;
};

LogBuffer::LogBuffer(UniqueFd destination, std::size_t capacity_bytes,
                     std::function<void(std::error_code)> on_failure)
    : capacity_(std::max<std::size_t>(capacity_bytes, 1)),
      destination_(std::make_unique<Destination>(std::move(destination))),
      on_failure_(std::move(on_failure)) {
  pending_.reserve(std::min<std::size_t>(capacity_, 64 * 1024));
  last_progress_ns_.store(now_ns());
  writer_ = std::thread([this] { run_writer(); });
}

LogBuffer::~LogBuffer() {
  close(std::chrono::seconds(1));
}

bool LogBuffer::wait_for_room(std::unique_lock<std::mutex>& lock, Waiting waiting) {
  for (;;) {
    if (closing_ || failure_) break;
    if (pending_.size() < capacity_) return true;
    if (waiting == Waiting::kNever) break;
    ready_.notify_one();  // the writer may be lingering: a full buffer should not wait for it
    ++waiting_callers_;
    bool timed_out = false;
    if (wait_deadline_) {
      timed_out = room_.wait_until(lock, *wait_deadline_) == std::cv_status::timeout;
    } else {
      room_.wait(lock);
    }
    --waiting_callers_;
    if (timed_out && pending_.size() >= capacity_) break;
  }
  ++lines_lost_;
  return false;
}

void LogBuffer::commit(std::unique_lock<std::mutex>& lock, bool was_empty) {
  ++pending_lines_;
  // Only a writer asleep for good needs waking (a lingering one comes back by itself), and only
  // for the first line: one wake-up per quiet spell, not per line.
  const bool wake = was_empty && writer_asleep_;
  lock.unlock();
  if (wake) ready_.notify_one();
}

void LogBuffer::append(const spdlog::details::log_msg& message, spdlog::formatter& formatter,
                       Waiting waiting) {
  std::unique_lock lock(mutex_);
  if (!wait_for_room(lock, waiting)) return;
  spdlog::memory_buf_t formatted;
  formatter.format(message, formatted);
  const bool was_empty = pending_.empty();
  pending_.append(formatted.data(), formatted.size());
  commit(lock, was_empty);
}

void LogBuffer::append(std::string_view lines, Waiting waiting) {
  std::unique_lock lock(mutex_);
  if (!wait_for_room(lock, waiting)) return;
  const bool was_empty = pending_.empty();
  pending_.append(lines);
  commit(lock, was_empty);
}

bool LogBuffer::replace_destination(UniqueFd destination) {
  auto next = std::make_unique<Destination>(std::move(destination));
  std::unique_ptr<Destination> unused;  // closed outside the lock
  {
    std::lock_guard lock(mutex_);
    if (closing_ || failure_) {
      unused = std::move(next);
      return false;
    }
    unused = std::exchange(next_destination_, std::move(next));
  }
  ready_.notify_one();
  return true;
}

void LogBuffer::stop_waiting_after(std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    wait_deadline_ = wait_deadline_ ? std::min(*wait_deadline_, deadline) : deadline;
  }
  room_.notify_all();
}

LogBufferReport LogBuffer::close(std::chrono::milliseconds stall_limit) {
  {
    std::lock_guard lock(mutex_);
    if (report_) return *report_;
    closing_ = true;
    close_stall_limit_ns_.store(std::max<std::int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(stall_limit).count(), 1));
  }
  ready_.notify_one();
  room_.notify_all();
  if (writer_.joinable()) writer_.join();
  std::lock_guard lock(mutex_);
  report_ = LogBufferReport{lines_lost_, failure_};
  return *report_;
}

std::uint64_t LogBuffer::lines_lost() const {
  std::lock_guard lock(mutex_);
  return lines_lost_;
}

bool LogBuffer::given_up() const {
  const std::int64_t limit = close_stall_limit_ns_.load();
  return limit > 0 && now_ns() - last_progress_ns_.load() >= limit;
}

void LogBuffer::run_writer() {
  // A reader that went away makes write() fail with EPIPE and raise SIGPIPE at this thread;
  // blocked here (and only here: no process-wide disposition changes), it stays pending and
  // harmless.
  sigset_t pipe_signal;
  ::sigemptyset(&pipe_signal);
  ::sigaddset(&pipe_signal, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);

  std::unique_lock lock(mutex_);
  const auto has_work = [&] {
    return !pending_.empty() || closing_ || next_destination_ != nullptr;
  };
  for (;;) {
    if (!has_work()) {
      ready_.wait_for(lock, kLinger, has_work);
      if (!has_work()) {
        writer_asleep_ = true;
        ready_.wait(lock, has_work);
        writer_asleep_ = false;
      }
    }
    if (next_destination_) {
      // Between batches: the last batch went whole to the old destination, the next goes whole
      // to the new one. The old one is closed now rather than at the next line, so the rotated
      // file is complete moments after the signal even on a quiet server.
      std::unique_ptr<Destination> retired =
          std::exchange(destination_, std::move(next_destination_));
      lock.unlock();
      retired.reset();
      lock.lock();
      continue;
    }
    if (pending_.empty()) return;  // closing, and everything was handed out
    batch_.swap(pending_);
    pending_.clear();
    batch_lines_ = std::exchange(pending_lines_, 0);
    if (waiting_callers_ > 0) room_.notify_all();
    const bool failed = static_cast<bool>(failure_);
    lock.unlock();
    const std::uint64_t unwritten = failed ? batch_lines_ : write_batch();
    lock.lock();
    lines_lost_ += unwritten;
  }
}

std::uint64_t LogBuffer::write_batch() {
  std::string_view rest = batch_;
  while (!rest.empty()) {
    const ssize_t written = destination_->write_some(rest);
    if (written > 0) {
      rest.remove_prefix(static_cast<std::size_t>(written));
      last_progress_ns_.store(now_ns());
      continue;
    }
    const int error = written < 0 ? errno : EIO;
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      if (given_up()) return count_lines(rest);
      destination_->wait_writable(kWritablePollMs);
      continue;
    }
    // The destination is gone for good (EPIPE: the reader closed; EIO: the terminal hung up;
    // ENOSPC: the disk is full): say so once, then count instead of writing.
    {
      std::lock_guard lock(mutex_);
      failure_ = std::error_code(error, std::generic_category());
    }
    room_.notify_all();
    try {
      if (on_failure_) on_failure_(std::error_code(error, std::generic_category()));
    } catch (...) {
      // Nothing may escape the writer thread; the failure is in the report all the same.
    }
    return count_lines(rest);
  }
  return 0;
}

LogBufferSink::LogBufferSink(std::shared_ptr<LogBuffer> buffer, LogBuffer::Waiting waiting)
    : buffer_(std::move(buffer)),
      waiting_(waiting),
      formatter_(std::make_unique<spdlog::pattern_formatter>()) {}

void LogBufferSink::log(const spdlog::details::log_msg& message) {
  buffer_->append(message, *formatter_, waiting_);
}

void LogBufferSink::set_pattern(const std::string& pattern) {
  formatter_ = std::make_unique<spdlog::pattern_formatter>(pattern);
}

void LogBufferSink::set_formatter(std::unique_ptr<spdlog::formatter> formatter) {
  formatter_ = std::move(formatter);
}

}  // namespace tcp_server
