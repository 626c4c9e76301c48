#pragma once

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace tcp_server {

// Runs each connection on a thread of its own, with a bounded stack. A thread whose connection
// has ended parks for a while and is reused by the next connection, so short connections do not
// pay for pthread_create/exit each time; it is still one connection per thread at any moment.
// Every thread is joined: by the next start() once it has exited, or by join_all().
// Thread safe.
class ConnectionThreads {
 public:
  using Job = std::function<void()>;

  ConnectionThreads(std::size_t stack_size, std::size_t max_parked,
                    std::chrono::milliseconds park_time);
  ~ConnectionThreads();
  ConnectionThreads(const ConnectionThreads&) = delete;
  ConnectionThreads& operator=(const ConnectionThreads&) = delete;

  // Runs job on a parked or a new thread. Returns the pthread_create error (EAGAIN when the
  // system is out of threads or memory) without running the job; 0 on success.
  int start(Job job);

  // Waits for every running job to return, then ends and joins every thread. Later start()
  // calls fail with ECANCELED.
  void join_all();

  [[nodiscard]] std::size_t thread_count() const;

 private:
  struct Worker {
    ConnectionThreads* owner = nullptr;
    pthread_t handle{};
    Job job;
    std::condition_variable wake;
  };

  static void* thread_main(void* worker);
  void run_worker(Worker* worker);
  void join_finished(std::unique_lock<std::mutex>& lock);

  const std::size_t stack_size_;
  const std::size_t max_parked_;
  const std::chrono::milliseconds park_time_;

  mutable std::mutex mutex_;
  std::condition_variable all_exited_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<Worker>> live_;      // running or parked
  std::vector<Worker*> parked_;                    // subset of live_, waiting for a job
  std::vector<std::unique_ptr<Worker>> finished_;  // exited or exiting, not yet joined
};

}  // namespace tcp_server
