// LogBuffer::replace_destination(): the switch logrotate's `create` mode needs (SIGHUP reopens
// the --log-file). Every line goes to exactly one destination, whole, in order.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tcp_server/log_buffer.hpp"

namespace tcp_server {
namespace {

using namespace std::chrono_literals;

// A pipe whose read end a thread drains until end of file (every write end closed), so the
// writer never stalls on it; eof() says whether the buffer has let go of the write end.
class DrainedPipe {
 public:
  DrainedPipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    read_end_.reset(fds[0]);
    write_end_.reset(fds[1]);
    reader_ = std::thread([this] { drain(); });
  }
  ~DrainedPipe() {
    write_end_.reset();
    if (reader_.joinable()) reader_.join();
  }
  DrainedPipe(const DrainedPipe&) = delete;
  DrainedPipe& operator=(const DrainedPipe&) = delete;

  UniqueFd take_write_end() { return std::move(write_end_); }
  // Waits (bounded) for end of file.
  bool wait_for_eof(std::chrono::milliseconds timeout) {
    return eof_future_.wait_for(timeout) == std::future_status::ready;
  }
  // Waits (bounded) until at least size bytes arrived.
  bool wait_for_size(std::size_t size, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, timeout, [&] { return text_.size() >= size; });
  }
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  void drain() {
    char chunk[4096];
    for (;;) {
      pollfd waiting{read_end_.get(), POLLIN, 0};
      // Bounded: a writer that never lets go fails the test instead of hanging it.
      if (::poll(&waiting, 1, 20'000) <= 0) break;
      const ssize_t n = ::read(read_end_.get(), chunk, sizeof chunk);
      if (n <= 0) break;
      std::lock_guard lock(mutex_);
      text_.append(chunk, static_cast<std::size_t>(n));
      arrived_.notify_all();
    }
    eof_.set_value();
  }

  UniqueFd read_end_;
  UniqueFd write_end_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::string text_;
  std::promise<void> eof_;
  std::future<void> eof_future_ = eof_.get_future();
  std::thread reader_;
};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(LogBufferReopen, EveryLineGoesWholeToExactlyOneDestinationInOrder) {
  DrainedPipe old_file;
  DrainedPipe new_file;
  // Small, so the buffer is often full and writers wait: the switch meets every state.
  auto buffer = std::make_unique<LogBuffer>(old_file.take_write_end(), 4096);
  constexpr int kThreads = 4;
  constexpr int kLinesEach = 5000;
  std::atomic<int> appended{0};
  std::atomic<bool> switched{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kLinesEach; ++i) {
        // The last quarter only after the switch, so the new destination gets lines for sure.
        if (i == kLinesEach * 3 / 4) switched.wait(false);
        buffer->append("t" + std::to_string(t) + " " + std::to_string(i) + " " +
                           std::string(static_cast<std::size_t>(i % 50), 'x') + "\n",
                       LogBuffer::Waiting::kForRoom);
        appended.fetch_add(1);
      }
    });
  }
  // Switch in the middle of the stream, while lines flow (the writers are between their half
  // and their three quarters, at the least).
  while (appended.load() < kThreads * kLinesEach / 2) std::this_thread::yield();
  const bool replaced = buffer->replace_destination(new_file.take_write_end());
  switched = true;
  switched.notify_all();
  ASSERT_TRUE(replaced);
  // The old destination is closed once its last batch is written, while lines still flow.
  EXPECT_TRUE(old_file.wait_for_eof(10s));
  for (auto& writer : writers) writer.join();
  const LogBufferReport report = buffer->close(5s);
  EXPECT_EQ(report.lines_lost, 0u);
  buffer.reset();  // closes the new destination
  ASSERT_TRUE(new_file.wait_for_eof(10s));

  // Per thread: the old file holds 0..k-1 and the new one k..end, each line once and whole.
  std::map<int, std::vector<int>> seen;  // thread -> numbers, in file order, old then new
  std::size_t old_lines = 0;
  std::size_t new_lines = 0;
  for (DrainedPipe* file : {&old_file, &new_file}) {
    const std::string text = file->text();
    ASSERT_TRUE(text.empty() || text.back() == '\n') << "a line was cut at the switch";
    for (const std::string& line : split_lines(text)) {
      int thread = -1;
      int number = -1;
      ASSERT_EQ(std::sscanf(line.c_str(), "t%d %d", &thread, &number), 2) << line;
      const std::size_t padding = line.size() - line.find(' ', line.find(' ') + 1) - 1;
      ASSERT_EQ(padding, static_cast<std::size_t>(number % 50)) << line;
      seen[thread].push_back(number);
      ++(file == &old_file ? old_lines : new_lines);
    }
  }
  EXPECT_GT(old_lines, 0u);
  EXPECT_GT(new_lines, 0u);
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kThreads));
  for (const auto& [thread, numbers] : seen) {
    ASSERT_EQ(numbers.size(), static_cast<std::size_t>(kLinesEach)) << "thread " << thread;
    for (int i = 0; i < kLinesEach; ++i) ASSERT_EQ(numbers[static_cast<std::size_t>(i)], i);
  }
}

TEST(LogBufferReopen, AQuietLogLetsGoOfTheOldDestinationAtOnce) {
  DrainedPipe old_file;
  DrainedPipe new_file;
  auto buffer = std::make_unique<LogBuffer>(old_file.take_write_end(), 1 << 20);
  buffer->append("before\n", LogBuffer::Waiting::kForRoom);
  ASSERT_TRUE(old_file.wait_for_size(7, 10s));
  ASSERT_TRUE(buffer->replace_destination(new_file.take_write_end()));
  // No line follows: the writer switches (and closes the old one) without waiting for one.
  ASSERT_TRUE(old_file.wait_for_eof(10s));
  EXPECT_EQ(old_file.text(), "before\n");
  buffer->append("after\n", LogBuffer::Waiting::kForRoom);
  EXPECT_EQ(buffer->close(1s).lines_lost, 0u);
  buffer.reset();
  ASSERT_TRUE(new_file.wait_for_eof(10s));
  EXPECT_EQ(new_file.text(), "after\n");
}

TEST(LogBufferReopen, LinesNotYetWrittenAtTheSwitchGoToTheNewDestination) {
  DrainedPipe old_file;
  DrainedPipe new_file;
  auto buffer = std::make_unique<LogBuffer>(old_file.take_write_end(), 1 << 20);
  // Taken, but (within the writer's linger) maybe not yet written: either file may get it,
  // never both, never neither.
  buffer->append("in flight\n", LogBuffer::Waiting::kForRoom);
  ASSERT_TRUE(buffer->replace_destination(new_file.take_write_end()));
  ASSERT_TRUE(old_file.wait_for_eof(10s));
  EXPECT_EQ(buffer->close(1s).lines_lost, 0u);
  buffer.reset();
  ASSERT_TRUE(new_file.wait_for_eof(10s));
  EXPECT_EQ(old_file.text() + new_file.text(), "in flight\n");
}

TEST(LogBufferReopen, AReplacementAfterCloseIsRefusedAndClosed) {
  DrainedPipe old_file;
  DrainedPipe new_file;
  LogBuffer buffer(old_file.take_write_end(), 1 << 20);
  (void)buffer.close(1s);
  EXPECT_FALSE(buffer.replace_destination(new_file.take_write_end()));
  EXPECT_TRUE(new_file.wait_for_eof(10s));  // not kept open by anyone
}

TEST(LogBufferReopen, AReplacementAfterTheDestinationFailedIsRefused) {
  DrainedPipe new_file;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  std::promise<void> failed;
  LogBuffer buffer(UniqueFd(fds[1]), 1 << 20, [&](std::error_code) { failed.set_value(); });
  read_end.reset();  // the reader is gone: EPIPE
  buffer.append("lost\n", LogBuffer::Waiting::kForRoom);
  ASSERT_EQ(failed.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(buffer.replace_destination(new_file.take_write_end()));
  EXPECT_TRUE(new_file.wait_for_eof(10s));
}

}  // namespace
}  // namespace tcp_server
