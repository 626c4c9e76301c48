#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "tcp_server/log_buffer.hpp"
#include "tcp_server/log_encoder.hpp"
#include "tcp_server/log_format.hpp"
#include "tcp_server/reloadable.hpp"

namespace tcp_server {

// The process's log: one LogBuffer (stdout or --log-file) behind two loggers. The server's
// logger waits for room when the buffer is full, so no line is dropped while the destination
// keeps up; main's own logger never waits, so a stalled destination can never keep main from
// reading signals. Not copyable; for main's thread, except on_failure (see LogBuffer).
class ProcessLog {
 public:
  // Throws std::system_error saying what cannot be opened (the --log-file, or a closed stdout).
  ProcessLog(const std::string& log_file, spdlog::level::level_enum level, LogFormat format,
             std::function<void(std::error_code)> on_failure);

  [[nodiscard]] std::shared_ptr<spdlog::logger> server_logger() const { return server_logger_; }
  // One of main's own lines, in the chosen format. Never waits for room in the log (a line that
  // finds none is counted as lost), so a stalled destination can never keep main from signals.
  void note(spdlog::level::level_enum level, std::string_view event, const std::string& text);
  // The counters ("stats: active 3, ..."), as the server would log them; never waits either.
  void stats(std::string_view label, const StatsSnapshot& snapshot);
  // The --log-file, if one was given ("" for standard output).
  [[nodiscard]] const std::string& log_file() const noexcept { return log_file_; }
  // Opens the --log-file path again and writes there from the next batch on (logrotate moved
  // the old file away and created a new one: its `create` mode, as nginx and HAProxy do). When
  // the path cannot be opened, the log keeps going to the file already open, and the result
  // says why. Only with a --log-file.
  ReloadResult reopen_log_file();
  // During shutdown: no thread waits for room in the log past deadline.
  void stop_waiting_after(std::chrono::steady_clock::time_point deadline);
  // Writes what is left (giving up when the destination accepts nothing for a second) and says
  // on stderr what could not be written. True when the whole log was written.
  bool close();

 private:
  // Encodes a line with main's logger (encode(LogLine&)) and logs it, unless the level is off.
  template <typename Encode>
  void write(spdlog::level::level_enum level, Encode encode);

  std::string log_file_;
  std::shared_ptr<LogBuffer> buffer_;
  std::unique_ptr<LogEncoder> encoder_;
  std::shared_ptr<spdlog::logger> server_logger_;
  std::shared_ptr<spdlog::logger> main_logger_;
};

// Writes one line to stderr unless stderr would block (it may be the same stalled pipe as the
// log): a diagnostic must never be what hangs the process.
void print_error_line(std::string_view line) noexcept;

}  // namespace tcp_server
