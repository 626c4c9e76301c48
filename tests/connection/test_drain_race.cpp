// The drain and a client in the middle of a line (README, Stopping: "lets a client that is in the
// middle of a message ... finish it"), at the two places where the drain can meet a connection
// whose first bytes of a line have arrived but not yet been read:
//  - the drain reaches the connection before its thread has run (it is registered first), or
//    while its thread is between two reads: the bytes wait in the socket;
//  - the race of request_drain() with recv(): the thread is parked in recv() with nothing held
//    (so it is idle), the first half of a line arrives, and the drain sees it idle and shuts its
//    read side (SHUT_RD) before the thread says it is busy. The thread then reads that half,
//    finds end of stream where the second half should come, and (before the fix) dropped it.
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "eventually.hpp"
#include "served_connection.hpp"

namespace tcp_server::testing {
namespace {

// Sends rest and reads one reply line; what went wrong instead, as text, so that a connection
// closed or reset early fails the expectation with a reason rather than an exception.
std::string finish_line_and_read_reply(TestClient& client, std::string_view rest) {
  try {
    client.send(rest);
    return client.read_line();
  } catch (const std::runtime_error& error) {
    return std::string("no reply: ") + error.what();
  }
}

std::size_t bytes_queued(int fd) {
  int queued = 0;
  return ::ioctl(fd, FIONREAD, &queued) == 0 ? static_cast<std::size_t>(queued) : 0;
}

TEST(ConnectionDrain, FirstHalfQueuedBeforeTheThreadRunsIsFinishedAndAnswered) {
  LoopbackPair pair = connect_over_loopback();
  pair.client.send("half a li");
  const int server_fd = pair.server.get();
  ASSERT_TRUE(eventually([&] { return bytes_queued(server_fd) >= 9; }));
  ServedConnection served(ServerConfig{}, std::move(pair.server), pair.peer);
  served.begin_drain();  // the registry knows a connection before its thread starts serving
  served.start();

  EXPECT_EQ(finish_line_and_read_reply(pair.client, "ne\n"), "ok\n");
  EXPECT_TRUE(pair.client.wait_for_close());
  EXPECT_TRUE(served.wait_until_done());
  EXPECT_TRUE(served.log().wait_for("half a line"));
  EXPECT_TRUE(served.log().wait_for("(shutdown)"));
}

TEST(ConnectionDrain, AnIdleConnectionIsClosedAtOnce) {
  LoopbackPair pair = connect_over_loopback();
  ServedConnection served(ServerConfig{}, std::move(pair.server), pair.peer);
  served.start();
  EXPECT_EQ(finish_line_and_read_reply(pair.client, "hello\n"), "ok\n");
  served.begin_drain();
  EXPECT_TRUE(pair.client.wait_for_close());
  EXPECT_TRUE(served.wait_until_done());
  EXPECT_TRUE(served.log().wait_for("(shutdown)"));
  EXPECT_EQ(served.stats().messages, 1u);
}

// Pins the calling thread to the CPU it is on, for its lifetime.
class PinnedToThisCpu {
 public:
  PinnedToThisCpu() {
    cpu_ = ::sched_getcpu();
    if (cpu_ < 0 || ::sched_getaffinity(0, sizeof saved_, &saved_) != 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu_, &one);
    pinned_ = ::sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~PinnedToThisCpu() {
    if (pinned_) ::sched_setaffinity(0, sizeof saved_, &saved_);
  }
  PinnedToThisCpu(const PinnedToThisCpu&) = delete;
  PinnedToThisCpu& operator=(const PinnedToThisCpu&) = delete;

  [[nodiscard]] bool pinned() const noexcept { return pinned_; }
  [[nodiscard]] int cpu() const noexcept { return cpu_; }

 private:
  int cpu_ = -1;
  cpu_set_t saved_{};
  bool pinned_ = false;
};

// Puts the calling thread on cpu under SCHED_IDLE (no privilege needed to lower oneself).
bool run_only_when_cpu_is_free(int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  sched_param param{};
  return ::sched_setaffinity(0, sizeof one, &one) == 0 &&
         ::sched_setscheduler(0, SCHED_IDLE, &param) == 0;
}

// True when thread tid is blocked in recvfrom() on fd (/proc/<pid>/task/<tid>/syscall: the
// syscall number and its arguments in hex, or "running").
bool blocked_in_recv(pid_t tid, int fd) {
  std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long number = -1;
  std::string first_argument;
  if (!(file >> number >> first_argument)) return false;
  return number == SYS_recvfrom && std::stoul(first_argument, nullptr, 16) == unsigned(fd);
}

// Puts a connection where the race puts it. The window is between recv() returning and the
// thread publishing that it is busy: nanoseconds. To hold it open, the connection's thread runs
// under SCHED_IDLE on the test thread's CPU: woken by the first half, it cannot run until the test
// thread blocks (a SCHED_IDLE task never preempts a normal one at wakeup; kernel/sched/fair.c),
// so the drain, called at once, finds it idle with the first half queued. That it worked is
// checked, not assumed: the drain's SHUT_RD shows as POLLRDHUP on the connection's socket, and it
// happens only to a connection the drain saw idle. Scheduling is the kernel's to give, so an
// attempt can miss (it then ends as an ordinary mid-line drain) and the next one tries again.
class DrainRace : public ::testing::Test {
 protected:
  // True once the drain has shut the read side of a connection whose thread has the first half
  // of a line ("half a li") to read; false (why_not_ says why) when this machine cannot do it.
  bool produce_race() {
    for (int attempt = 0; attempt < 20; ++attempt) {
      pair_.emplace(connect_over_loopback());
      served_ =
          std::make_unique<ServedConnection>(ServerConfig{}, std::move(pair_->server), pair_->peer);
      PinnedToThisCpu pin;
      if (!pin.pinned()) return cannot("cannot pin the test thread to a CPU");
      std::atomic<bool> idle_policy{false};
      served_->start([&] { idle_policy = run_only_when_cpu_is_free(pin.cpu()); });
      if (!idle_policy) return cannot("cannot run the connection's thread under SCHED_IDLE");
      if (!std::ifstream("/proc/self/task/" + std::to_string(served_->thread_id()) + "/syscall")) {
        return cannot("cannot read /proc/self/task/<tid>/syscall");
      }
      if (!eventually(
              [&] { return blocked_in_recv(served_->thread_id(), served_->socket_fd()); })) {
        ADD_FAILURE() << "the connection's thread never waited in recv()";
        return false;
      }
      pair_->client.send("half a li");
      served_->begin_drain();
      pollfd shut{served_->socket_fd(), POLLRDHUP, 0};
      if (::poll(&shut, 1, 0) == 1 && (shut.revents & POLLRDHUP) != 0) return true;
      // The thread ran first: the drain saw it busy. Let it finish as usual, and try again.
      EXPECT_EQ(finish_line_and_read_reply(pair_->client, "ne\n"), "ok\n");
      served_.reset();
      pair_.reset();
    }
    return cannot("the scheduler never let the race happen in 20 attempts");
  }

  // The client goes first, so that a connection still serving sees the end of its stream.
  void TearDown() override {
    pair_.reset();
    served_.reset();
  }

  bool cannot(std::string why) {
    why_not_ = std::move(why);
    return false;
  }

  // The thread has read the first half (and, before the fix, already dropped it).
  bool first_half_read() {
    return eventually([&] { return served_->stats().bytes_in >= 9; });
  }

  std::optional<LoopbackPair> pair_;
  std::unique_ptr<ServedConnection> served_;
  std::string why_not_;  // why produce_race() could not
};

TEST_F(DrainRace, FirstHalfCaughtByTheIdleShutdownIsFinishedAndAnswered) {
  if (!produce_race()) GTEST_SKIP() << why_not_;
  ASSERT_TRUE(first_half_read());
  EXPECT_EQ(finish_line_and_read_reply(pair_->client, "ne\n"), "ok\n");
  EXPECT_TRUE(pair_->client.wait_for_close());
  EXPECT_TRUE(served_->wait_until_done());
  EXPECT_TRUE(served_->log().wait_for("half a line"));
  EXPECT_TRUE(served_->log().wait_for("(shutdown)"));
}

TEST_F(DrainRace, PeerThatHalfClosesAfterTheCaughtFirstHalfGetsItsLastLineAnswered) {
  if (!produce_race()) GTEST_SKIP() << why_not_;
  ASSERT_TRUE(first_half_read());
  pair_->client.send("ne");
  pair_->client.shutdown_write();
  std::string reply;
  try {
    reply = pair_->client.read_line();
  } catch (const std::runtime_error& error) {
    reply = std::string("no reply: ") + error.what();
  }
  EXPECT_EQ(reply, "ok\n");
  EXPECT_TRUE(pair_->client.wait_for_close());
  EXPECT_TRUE(served_->wait_until_done());
  EXPECT_TRUE(served_->log().wait_for("half a line"));
}

TEST_F(DrainRace, DeadlineShutdownStillDropsTheLineTheIdleShutdownCaught) {
  if (!produce_race()) GTEST_SKIP() << why_not_;
  ASSERT_TRUE(first_half_read());
  served_->shut_down_all(SHUT_RD);  // what the drain does once --drain-timeout has passed
  EXPECT_TRUE(pair_->client.wait_for_close());
  EXPECT_TRUE(served_->wait_until_done());
  EXPECT_TRUE(served_->log().wait_for("an unfinished line was dropped"));
  EXPECT_EQ(served_->stats().messages, 0u);
}

}  // namespace
}  // namespace tcp_server::testing
