#pragma once

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

namespace tcp_server {

// Runs each connection on a thread of its own, with a bounded stack. A thread whose connection
// has ended parks for a while and is reused by the next connection, so short connections do not
// pay for pthread_create/exit each time; it is still one connection per thread at any moment.
// Threads are detached: one that exits gives its stack back at once (a joinable thread keeps
// its stack and guard mappings until someone joins it, and near vm.max_map_count that matters).
// They are still all accounted for: join_all() waits until every one has left its last access
// to this object. Thread safe.
class ConnectionThreads {
 public:
  using Job = std::function<void()>;

  ConnectionThreads(std::size_t stack_size, std::size_t max_parked,
                    std::chrono::milliseconds park_time);
  ~ConnectionThreads();
  ConnectionThreads(const ConnectionThreads&) = delete;
  ConnectionThreads& operator=(const ConnectionThreads&) = delete;

  // Runs job on a parked or a new thread. Returns the error (EAGAIN when the system is out of
  // threads or memory, ECANCELED after join_all()) without running the job.
  std::error_code start(Job job) noexcept;

  // Waits for every running job to return and every thread to be done with this object. Later
  // start() calls fail with ECANCELED.
  void join_all();

  [[nodiscard]] std::size_t thread_count() const;
  // Threads waiting for a job (a subset of thread_count()).
  [[nodiscard]] std::size_t parked_count() const;

 private:
  struct Worker {
    ConnectionThreads* owner = nullptr;
    std::list<Worker>::iterator self;  // its place in live_
    Job job;
    std::condition_variable wake;
  };

  static void* thread_main(void* worker);
  void run_worker(Worker* worker);

  const std::size_t stack_size_;
  const std::size_t max_parked_;
  const std::chrono::milliseconds park_time_;

  mutable std::mutex mutex_;
  std::condition_variable all_exited_;
  bool stopping_ = false;
  std::list<Worker> live_;       // running or parked; a list, so leaving never allocates
  std::vector<Worker*> parked_;  // subset of live_, waiting for a job (capacity max_parked_)
};

}  // namespace tcp_server
