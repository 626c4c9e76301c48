// Allocation failure on the accept loop's thread. This executable replaces the global operator
// new so that a test can make the next allocation of one chosen thread fail with bad_alloc, as
// it would when the machine is out of memory.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

#include "log_capture.hpp"
#include "running_server.hpp"
#include "tcp_server/server.hpp"
#include "test_client.hpp"

namespace {

std::atomic<int> failures_armed{0};
thread_local bool allocations_may_fail = false;

}  // namespace

void* operator new(std::size_t size) {
  if (allocations_may_fail && failures_armed.load() > 0 && failures_armed.fetch_sub(1) > 0) {
    throw std::bad_alloc();
  }
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
void operator delete(void* memory) noexcept {
  std::free(memory);
}
void operator delete(void* memory, std::size_t) noexcept {
  std::free(memory);
}

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

TEST(AllocationFailure, OutOfMemoryForOneClientRefusesThatClientOnly) {
  ServerConfig config = loopback_config();
  config.reject_message = "busy\n";
  CapturedLog log;
  Server server(config, log.logger());
  server.open();
  std::exception_ptr failure;
  std::thread serving([&] {
    allocations_may_fail = true;  // this thread runs the accept loop
    try {
      server.run();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  // Stopped and joined however the test ends (a failed expectation may throw).
  struct StopAndJoin {
    Server& server;
    std::thread& thread;
    ~StopAndJoin() {
      server.stop();
      if (thread.joinable()) thread.join();
    }
  } stop_and_join{server, serving};
  const Endpoint endpoint = server.local_endpoint();  // 127.0.0.1:port

  failures_armed.store(1);  // the accept loop's next allocation: the one for this client
  TestClient unlucky(endpoint);
  EXPECT_TRUE(unlucky.wait_for_close(10s));  // refused (after "busy"), not left hanging
  EXPECT_EQ(failures_armed.load(), 0);
  EXPECT_TRUE(log.wait_for("out of memory")) << "the refusal says why";

  // The server goes on: the next client is served.
  TestClient lucky(endpoint);
  lucky.send("hello\n");
  EXPECT_EQ(lucky.read_line(), "ok\n");
  server.stop();
  serving.join();
  EXPECT_FALSE(failure) << "run() failed";
}

}  // namespace
}  // namespace tcp_server::testing
