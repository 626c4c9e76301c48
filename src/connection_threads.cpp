#include "connection_threads.hpp"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <new>

namespace tcp_server {
namespace {

// pthread attributes owned for the length of one pthread_create call: a bounded stack, detached.
class ThreadAttributes {
 public:
  explicit ThreadAttributes(std::size_t stack_size) {
    ::pthread_attr_init(&attributes_);
    ::pthread_attr_setstacksize(&attributes_, stack_size);
    ::pthread_attr_setdetachstate(&attributes_, PTHREAD_CREATE_DETACHED);
  }
  ~ThreadAttributes() { ::pthread_attr_destroy(&attributes_); }
  ThreadAttributes(const ThreadAttributes&) = delete;
  ThreadAttributes& operator=(const ThreadAttributes&) = delete;
  const pthread_attr_t* get() const { return &attributes_; }

 private:
  pthread_attr_t attributes_{};
};

}  // namespace

ConnectionThreads::ConnectionThreads(std::size_t stack_size, std::size_t max_parked,
                                     std::chrono::milliseconds park_time)
    : stack_size_(stack_size), max_parked_(max_parked), park_time_(park_time) {
  parked_.reserve(max_parked_);  // so that parking never allocates
}

ConnectionThreads::~ConnectionThreads() {
  join_all();
}

std::error_code ConnectionThreads::start(Job job) noexcept {
  try {
    std::lock_guard lock(mutex_);
    if (stopping_) return std::make_error_code(std::errc::operation_canceled);
    if (!parked_.empty()) {
      Worker* worker = parked_.back();
      parked_.pop_back();
      worker->job = std::move(job);
      worker->wake.notify_one();
      return {};
    }
    Worker& worker = live_.emplace_back();
    worker.owner = this;
    worker.self = std::prev(live_.end());
    worker.job = std::move(job);
    const ThreadAttributes attributes(stack_size_);
    pthread_t handle{};
    const int error = ::pthread_create(&handle, attributes.get(), &thread_main, &worker);
    if (error == 0) return {};
    live_.pop_back();
    return {error, std::system_category()};
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

void* ConnectionThreads::thread_main(void* worker) {
  auto* self = static_cast<Worker*>(worker);
  self->owner->run_worker(self);
  return nullptr;
}

void ConnectionThreads::run_worker(Worker* worker) {
  std::unique_lock lock(mutex_, std::defer_lock);
  for (;;) {
    try {
      worker->job();
    } catch (...) {
      // A job reports its own failures; nothing may escape a thread.
    }
    // Released outside the lock: a job's captures may close sockets. No one else touches job
    // while this worker is not parked.
    worker->job = nullptr;
    lock.lock();
    if (stopping_ || parked_.size() >= max_parked_) break;
    parked_.push_back(worker);
    worker->wake.wait_for(lock, park_time_, [&] { return worker->job || stopping_; });
    if (!worker->job) {
      std::erase(parked_, worker);
      break;
    }
    lock.unlock();
  }
  // Leave while still holding the lock: this destroys the Worker, and once the lock is released
  // this thread touches nothing of the owner again, so join_all() may return and the owner go
  // away while the thread is still on its way out.
  live_.erase(worker->self);
  if (live_.empty()) all_exited_.notify_all();
}

void ConnectionThreads::join_all() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  for (Worker* worker : parked_) worker->wake.notify_one();
  all_exited_.wait(lock, [&] { return live_.empty(); });
}

std::size_t ConnectionThreads::thread_count() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

std::size_t ConnectionThreads::parked_count() const {
  std::lock_guard lock(mutex_);
  return parked_.size();
}

}  // namespace tcp_server
