// The private pieces under the connection path, on their own: the thread cache, the fd owner,
// and complete sends on a real socket pair.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "connection_threads.hpp"
#include "eventually.hpp"
#include "tcp_server/socket.hpp"
#include "tcp_server/unique_fd.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

// A gate jobs wait at until the test opens it; bounded, so a failing test cannot hang.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mutex_);
    return opened_.wait_for(lock, 10s, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

TEST(ConnectionThreads, EachRunningJobHasAThreadOfItsOwn) {
  ConnectionThreads threads(256 * 1024, 4, 10s);
  Gate gate;
  std::atomic<int> finished{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(threads.start([&] {
      gate.wait();
      finished.fetch_add(1);
    }));
  }
  EXPECT_EQ(threads.thread_count(), 3u);
  gate.open();
  ASSERT_TRUE(eventually([&] { return finished.load() == 3; }));
  threads.join_all();
  EXPECT_EQ(threads.thread_count(), 0u);
}

TEST(ConnectionThreads, AFinishedJobsThreadParksAndRunsTheNextJob) {
  ConnectionThreads threads(256 * 1024, 4, 10s);
  std::thread::id first;
  std::thread::id second;
  std::atomic<int> finished{0};
  ASSERT_FALSE(threads.start([&] {
    first = std::this_thread::get_id();
    finished.fetch_add(1);
  }));
  // The job has returned; its thread parks (still counted) for the next one.
  ASSERT_TRUE(eventually([&] { return threads.parked_count() == 1; }));
  EXPECT_EQ(threads.thread_count(), 1u);
  ASSERT_FALSE(threads.start([&] {
    second = std::this_thread::get_id();
    finished.fetch_add(1);
  }));
  ASSERT_TRUE(eventually([&] { return finished.load() == 2; }));
  EXPECT_EQ(first, second);
  EXPECT_EQ(threads.thread_count(), 1u);
}

TEST(ConnectionThreads, AParkedThreadExitsAfterTheParkTime) {
  ConnectionThreads threads(256 * 1024, 4, 50ms);
  std::atomic<bool> ran{false};
  ASSERT_FALSE(threads.start([&] { ran.store(true); }));
  ASSERT_TRUE(eventually([&] { return ran.load(); }));
  EXPECT_TRUE(eventually([&] { return threads.thread_count() == 0; }, 5s));
}

TEST(ConnectionThreads, NoMoreThanMaxParkedThreadsStayParked) {
  ConnectionThreads threads(256 * 1024, 1, 10s);
  Gate gate;
  std::atomic<int> finished{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(threads.start([&] {
      gate.wait();
      finished.fetch_add(1);
    }));
  }
  gate.open();
  ASSERT_TRUE(eventually([&] { return finished.load() == 3; }));
  EXPECT_TRUE(eventually([&] { return threads.thread_count() == 1; }, 5s));
  EXPECT_EQ(threads.parked_count(), 1u);
}

TEST(ConnectionThreads, JoinAllWaitsForRunningJobsAndLaterStartsAreCanceled) {
  auto threads = std::make_unique<ConnectionThreads>(256 * 1024, 4, 10s);
  std::atomic<bool> job_returned{false};
  ASSERT_FALSE(threads->start([&] {
    std::this_thread::sleep_for(100ms);  // a job still running when join_all() is called
    job_returned.store(true);
  }));
  threads->join_all();
  EXPECT_TRUE(job_returned.load());
  EXPECT_EQ(threads->start([] {}), std::errc::operation_canceled);
  threads.reset();  // destroying it right after join_all() is safe: the thread is done with it
}

TEST(ConnectionThreads, AnExceptionInAJobStaysInItsThread) {
  ConnectionThreads threads(256 * 1024, 4, 10s);
  std::atomic<bool> later_ran{false};
  ASSERT_FALSE(threads.start([] { throw std::runtime_error("job failed"); }));
  ASSERT_FALSE(threads.start([&] { later_ran.store(true); }));
  EXPECT_TRUE(eventually([&] { return later_ran.load(); }));
}

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

TEST(UniqueFd, ClosesOnceAndMovesOwnership) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[1]);
  const int raw = fds[0];
  {
    UniqueFd owner(raw);
    UniqueFd moved(std::move(owner));
    EXPECT_FALSE(owner.valid());
    EXPECT_EQ(moved.get(), raw);
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));

  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd kept(fds[0]);
  const int released = kept.release();
  EXPECT_FALSE(kept.valid());
  kept.reset();
  EXPECT_TRUE(is_open(released));  // released: not ours to close
  ::close(released);
  UniqueFd replaced(fds[1]);
  replaced.reset();
  EXPECT_FALSE(is_open(fds[1]));
}

TEST(SendAll, CompletesWritesLargerThanTheSocketBuffer) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd ours(pair[0]);
  UniqueFd theirs(pair[1]);
  const std::string bytes(4 << 20, 'x');  // far beyond the socket buffers: many short writes
  std::string received;
  std::thread reader([&] {
    char buffer[65536];
    while (received.size() < bytes.size()) {
      const ReceiveResult got = receive_some(theirs.get(), buffer);
      if (got.error || got.bytes == 0) break;
      received.append(buffer, got.bytes);
    }
  });
  EXPECT_FALSE(send_all(ours.get(), bytes));
  reader.join();
  EXPECT_EQ(received.size(), bytes.size());
}

TEST(SendAll, APeerThatWentAwayIsAnErrorNotSigpipe) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd ours(pair[0]);
  ::close(pair[1]);
  const std::error_code error = send_all(ours.get(), "anyone there?\n");
  EXPECT_TRUE(is_peer_gone(error)) << error.message();  // and this process is still alive
}

}  // namespace
}  // namespace tcp_server::testing
