#include "tcp_server/log_buffer.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace tcp_server {
namespace {

using namespace std::chrono_literals;

struct Pipe {
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
  // Reads until count bytes arrived or nothing came for 5 s.
  std::string read(std::size_t count) const {
    std::string out;
    char buffer[4096];
    while (out.size() < count) {
      pollfd waiting{read_end.get(), POLLIN, 0};
      if (::poll(&waiting, 1, 5000) <= 0) break;
      const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
      if (n <= 0) break;
      out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
  }
  UniqueFd read_end;
  UniqueFd write_end;
};

// Runs f on a thread and says whether it returned within timeout (the thread is joined anyway
// once f returns, so a failing test does not leave it behind if it ever does).
template <typename F>
bool returns_within(std::chrono::milliseconds timeout, F f) {
  auto done = std::async(std::launch::async, std::move(f));
  return done.wait_for(timeout) == std::future_status::ready;
}

TEST(LogBuffer, WritesLinesInOrder) {
  Pipe pipe;
  LogBuffer buffer(std::move(pipe.write_end), 1 << 20);
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    const std::string line = "line " + std::to_string(i) + "\n";
    buffer.append(line, LogBuffer::Waiting::kForRoom);
    expected += line;
  }
  EXPECT_EQ(pipe.read(expected.size()), expected);
  const LogBufferReport report = buffer.close(1s);
  EXPECT_EQ(report.lines_lost, 0u);
  EXPECT_FALSE(report.failure);
}

TEST(LogBuffer, CloseWritesEverythingStillBuffered) {
  Pipe pipe;
  auto buffer = std::make_unique<LogBuffer>(std::move(pipe.write_end), 1 << 20);
  // More than the pipe holds (64 KiB), so most of it is still buffered at close().
  const std::string line(99, 'a');
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    buffer->append(line + "\n", LogBuffer::Waiting::kForRoom);
    expected += line + "\n";
  }
  std::string received;
  std::thread reader([&] { received = pipe.read(expected.size()); });
  const LogBufferReport report = buffer->close(5s);
  reader.join();
  EXPECT_EQ(report.lines_lost, 0u);
  EXPECT_EQ(received, expected);
}

TEST(LogBuffer, AStalledDestinationReleasesWaitingCallersAtTheDeadlineAndCountsEveryLine) {
  Pipe pipe;  // nobody reads it until the end
  const int pipe_size = ::fcntl(pipe.write_end.get(), F_GETPIPE_SZ);
  ASSERT_GT(pipe_size, 0);
  LogBuffer buffer(std::move(pipe.write_end), 4096);
  const std::string line = std::string(63, 'x') + "\n";
  std::uint64_t offered = 0;
  // Offer lines (never waiting) until most of the pipe is full and lines find no room.
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  int queued = 0;
  while ((queued < pipe_size / 2 || buffer.lines_lost() == 0) &&
         std::chrono::steady_clock::now() < give_up) {
    buffer.append(line, LogBuffer::Waiting::kNever);
    ++offered;
    ASSERT_EQ(::ioctl(pipe.read_end.get(), FIONREAD, &queued), 0);
  }
  ASSERT_GT(buffer.lines_lost(), 0u) << "the buffer never filled";

  // Callers that wait for room are released at the deadline.
  buffer.stop_waiting_after(std::chrono::steady_clock::now() + 100ms);
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      for (int i = 0; i < 100; ++i) buffer.append(line, LogBuffer::Waiting::kForRoom);
    });
  }
  for (auto& caller : callers) caller.join();  // a hang here is the defect; ctest times it out
  offered += 300;

  // close() gives up on a destination that has accepted nothing for the stall limit.
  LogBufferReport report;
  ASSERT_TRUE(returns_within(5s, [&] { report = buffer.close(200ms); }));
  EXPECT_FALSE(report.failure);
  // Every line offered was either written whole or counted as lost: nothing vanished silently.
  ASSERT_EQ(::ioctl(pipe.read_end.get(), FIONREAD, &queued), 0);  // the writer has stopped
  const std::string written = pipe.read(static_cast<std::size_t>(queued));
  ASSERT_EQ(written.size() % line.size(), 0u);
  EXPECT_EQ(written.size() / line.size() + report.lines_lost, offered);
  EXPECT_GT(report.lines_lost, 300u - 2 * 4096 / line.size());
}

TEST(LogBuffer, AVanishedReaderIsAnErrorCodeNotSigpipe) {
  Pipe pipe;
  std::promise<std::error_code> failed;
  LogBuffer buffer(std::move(pipe.write_end), 1 << 20,
                   [&](std::error_code error) { failed.set_value(error); });
  pipe.read_end.reset();  // SIGPIPE would end this test process
  buffer.append("first\n", LogBuffer::Waiting::kForRoom);
  auto failure = failed.get_future();
  ASSERT_EQ(failure.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(failure.get(), std::errc::broken_pipe);
  // Later lines are counted, and never make a caller wait.
  for (int i = 0; i < 10; ++i) buffer.append("later\n", LogBuffer::Waiting::kForRoom);
  const LogBufferReport report = buffer.close(1s);
  EXPECT_EQ(report.lines_lost, 11u);
  EXPECT_EQ(report.failure, std::errc::broken_pipe);
}

TEST(LogBuffer, CloseIsIdempotentAndLaterLinesAreCounted) {
  Pipe pipe;
  LogBuffer buffer(std::move(pipe.write_end), 1 << 20);
  buffer.append("one\n", LogBuffer::Waiting::kForRoom);
  EXPECT_EQ(pipe.read(4), "one\n");
  EXPECT_EQ(buffer.close(1s).lines_lost, 0u);
  buffer.append("two\n", LogBuffer::Waiting::kNever);
  EXPECT_EQ(buffer.lines_lost(), 1u);
  EXPECT_EQ(buffer.close(1s).lines_lost, 0u);  // the report of the first close
}

}  // namespace
}  // namespace tcp_server
