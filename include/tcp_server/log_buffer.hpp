#pragma once

#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "tcp_server/unique_fd.hpp"

namespace tcp_server {

// What became of the lines given to a LogBuffer, once it is closed.
struct LogBufferReport {
  std::uint64_t lines_lost = 0;  // taken but never written (stalled past a deadline, or failed)
  std::error_code failure;       // the error that ended the destination, if one did
};

// The log's way out: formatted lines are appended to a bounded buffer and one writer thread
// writes the buffer to the destination, a whole batch per write(2). Client threads therefore
// never wait on write(2) itself, only on room in the buffer.
//
// Two promises, for the two ways a destination lets us down:
//  - Stalled (a paused `less`, a hung log shipper): writes never block the writer thread
//    (pipes and terminals are reopened non-blocking, sockets are sent MSG_DONTWAIT), so close()
//    and stop_waiting_after() keep their deadlines; a caller waits for room only until such a
//    deadline, and a line that finds no room after it is counted as lost, never dropped silently.
//  - Failed (the reader closed the pipe: EPIPE; a disk full; a terminal hung up): on_failure runs
//    once, on the writer thread; from then on lines are counted as lost. SIGPIPE is blocked in
//    the writer thread, so a vanished reader is an error code, never the death of the process.
// Thread safe.
class LogBuffer {
 public:
  // destination: where the bytes go (a dup of stdout, an O_APPEND file). capacity_bytes bounds
  // the memory held for lines not yet written.
  LogBuffer(UniqueFd destination, std::size_t capacity_bytes,
            std::function<void(std::error_code)> on_failure = {});
  // close() with a one-second stall limit, if it was not called.
  ~LogBuffer();
  LogBuffer(const LogBuffer&) = delete;
  LogBuffer& operator=(const LogBuffer&) = delete;

  enum class Waiting {
    kForRoom,  // wait while the buffer is full (until a stop_waiting_after() deadline)
    kNever,    // never wait: a line that finds the buffer full is counted as lost
  };

  // Formats message with formatter (under the buffer's lock, so one formatter may serve many
  // threads) and appends it.
  void append(const spdlog::details::log_msg& message, spdlog::formatter& formatter,
              Waiting waiting);
  // Appends bytes that are already formatted (one or more whole lines).
  void append(std::string_view lines, Waiting waiting);

  // Switches to a new destination (a --log-file reopened after logrotate moved the old one) between
  // two batches: every line is written exactly once, to the old destination if it was handed to
  // the writer before the switch and to the new one otherwise, and the old destination is closed
  // once its last batch is written. Returns false (and closes destination) once closing, or
  // once the destination has failed (on_failure ran: the server is stopping by then).
  bool replace_destination(UniqueFd destination);

  // From now on no caller waits for room past deadline.
  void stop_waiting_after(std::chrono::steady_clock::time_point deadline);

  // Takes no more lines, writes what is buffered, and stops the writer thread. Gives up on the
  // rest (counted as lost) once the destination has accepted nothing for stall_limit, so a
  // destination that stalled long ago costs no wait at all. Idempotent.
  LogBufferReport close(std::chrono::milliseconds stall_limit);

  [[nodiscard]] std::uint64_t lines_lost() const;

 private:
  class Destination;
  // Whether a caller may still wait for room; called with the lock held.
  bool wait_for_room(std::unique_lock<std::mutex>& lock, Waiting waiting);
  void commit(std::unique_lock<std::mutex>& lock, bool was_empty);
  void run_writer();
  // Writes batch_; returns how many of its lines were not written (the destination failed, or
  // stalled past the stall limit while closing).
  std::uint64_t write_batch();
  // True when the writer should stop trying (closing, and nothing accepted for the stall limit).
  bool given_up() const;

  const std::size_t capacity_;
  std::unique_ptr<Destination> destination_;
  const std::function<void(std::error_code)> on_failure_;

  mutable std::mutex mutex_;
  std::condition_variable ready_;  // writer: bytes to write, or closing
  std::condition_variable room_;   // callers: room in pending_, or gave up
  std::string pending_;            // lines taken, not yet handed to the writer
  std::uint64_t pending_lines_ = 0;
  std::size_t waiting_callers_ = 0;
  bool writer_asleep_ = false;  // the writer waits for a wake-up, not for its linger to end
  std::uint64_t lines_lost_ = 0;
  std::error_code failure_;
  bool closing_ = false;
  std::optional<std::chrono::steady_clock::time_point> wait_deadline_;
  std::optional<LogBufferReport> report_;
  std::unique_ptr<Destination> next_destination_;  // taken by the writer between batches
  // Read by the writer without the lock: the stall limit once closing (0: not closing), and
  // when the destination last accepted a byte (steady_clock ticks).
  std::atomic<std::int64_t> close_stall_limit_ns_{0};
  std::atomic<std::int64_t> last_progress_ns_{0};

  // The writer thread's own: the batch being written and how many lines it holds. destination_
  // too, once the writer runs: only the writer replaces it.
  std::string batch_;
  std::uint64_t batch_lines_ = 0;
  std::thread writer_;
};

// An spdlog sink in front of a LogBuffer: the logger's pattern is applied here, the bytes go to
// the buffer. Several sinks (one that waits for room, one that never does) may share one buffer.
class LogBufferSink final : public spdlog::sinks::sink {
 public:
  LogBufferSink(std::shared_ptr<LogBuffer> buffer, LogBuffer::Waiting waiting);

  void log(const spdlog::details::log_msg& message) override;
  // The writer writes as soon as it can; there is nothing to push.
  void flush() override {}
  void set_pattern(const std::string& pattern) override;
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

 private:
  std::shared_ptr<LogBuffer> buffer_;
  const LogBuffer::Waiting waiting_;
  std::unique_ptr<spdlog::formatter> formatter_;  // used under the buffer's lock only
};

}  // namespace tcp_server
