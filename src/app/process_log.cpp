#include "process_log.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace tcp_server {
namespace {

// Bytes of formatted lines waiting for the writer: at about 100-300 bytes a line, 10,000 lines
// or more, so bursts never make clients wait on a destination that keeps up.
constexpr std::size_t kLogBufferBytes = 4 * 1024 * 1024;
// How long close() keeps trying a destination that accepts nothing.
constexpr std::chrono::seconds kCloseStallLimit{1};

// Appending, created if missing; a missing directory is an error (no surprise mkdir -p).
// Invalid with errno set when it cannot be opened. extra_flags: O_NONBLOCK on a reopen, so a
// --log-file that is a FIFO nobody reads any more fails (ENXIO) instead of blocking the thread
// that reads signals; it has no effect on a regular file.
UniqueFd open_log_file(const std::string& path, int extra_flags = 0) {
  return UniqueFd(::open(path.c_str(),
                         O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | extra_flags, 0644));
}

UniqueFd open_destination(const std::string& log_file) {
  if (log_file.empty()) {
    UniqueFd out(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));
    if (!out) {
      throw std::system_error(errno, std::generic_category(),
                              "cannot log to standard output (use --log-file)");
    }
    return out;
  }
  UniqueFd file = open_log_file(log_file);
  if (!file) {
    throw std::system_error(errno, std::generic_category(), "--log-file: cannot open " + log_file);
  }
  return file;
}

std::shared_ptr<spdlog::logger> make_logger(std::shared_ptr<LogBuffer> buffer,
                                            LogBuffer::Waiting waiting,
                                            spdlog::level::level_enum level, const char* pattern) {
  auto logger = std::make_shared<spdlog::logger>(
      "tcp_server", std::make_shared<LogBufferSink>(std::move(buffer), waiting));
  logger->set_pattern(pattern);
  logger->set_level(level);
  return logger;
}

}  // namespace

ProcessLog::ProcessLog(const std::string& log_file, spdlog::level::level_enum level,
                       LogFormat format, std::function<void(std::error_code)> on_failure)
    : log_file_(log_file),
      buffer_(std::make_shared<LogBuffer>(open_destination(log_file), kLogBufferBytes,
                                          std::move(on_failure))),
      encoder_(make_log_encoder(format)),
      server_logger_(
          make_logger(buffer_, LogBuffer::Waiting::kForRoom, level, encoder_->pattern())),
      main_logger_(make_logger(buffer_, LogBuffer::Waiting::kNever, level, encoder_->pattern())) {}

template <typename Encode>
void ProcessLog::write(spdlog::level::level_enum level, Encode encode) {
  if (!main_logger_->should_log(level)) return;
  LogLine line;
  encode(line);
  main_logger_->log(level, spdlog::string_view_t(line.data(), line.size()));
}

void ProcessLog::note(spdlog::level::level_enum level, std::string_view event,
                      const std::string& text) {
  write(level, [&](LogLine& line) { encoder_->note(line, event, text); });
}

void ProcessLog::stats(std::string_view label, const StatsSnapshot& snapshot) {
  write(spdlog::level::info, [&](LogLine& line) { encoder_->stats(line, label, snapshot); });
}

ReloadResult ProcessLog::reopen_log_file() {
  if (log_file_.empty()) return ReloadResult::failed("no --log-file to reopen");
  UniqueFd file = open_log_file(log_file_, O_NONBLOCK);
  if (!file) {
    const int error = errno;
    return ReloadResult::failed(
        fmt::format("cannot reopen {}: {}; still writing to the file opened before", log_file_,
                    std::generic_category().message(error)));
  }
  if (!buffer_->replace_destination(std::move(file))) {
    return ReloadResult::failed("the log output has failed or is closing");
  }
  return ReloadResult::reloaded("reopened " + log_file_);
}

void ProcessLog::stop_waiting_after(std::chrono::steady_clock::time_point deadline) {
  buffer_->stop_waiting_after(deadline);
}

bool ProcessLog::close() {
  const LogBufferReport report = buffer_->close(kCloseStallLimit);
  if (report.lines_lost == 0) return !report.failure;
  const std::string why = report.failure ? "the log output failed: " + report.failure.message()
                                         : "the log output accepted nothing for a second";
  print_error_line(fmt::format("tcp_server: {} log line{} could not be written ({})",
                               report.lines_lost, report.lines_lost == 1 ? "" : "s", why));
  return false;
}

void print_error_line(std::string_view line) noexcept {
  pollfd waiting{STDERR_FILENO, POLLOUT, 0};
  if (::poll(&waiting, 1, 100) <= 0 || (waiting.revents & POLLOUT) == 0) return;
  char newline = '\n';
  const iovec parts[2] = {{const_cast<char*>(line.data()), line.size()}, {&newline, 1}};
  // Short enough (< PIPE_BUF) to go in whole once the pipe polled writable.
  [[maybe_unused]] const auto written = ::writev(STDERR_FILENO, parts, 2);
}

}  // namespace tcp_server
