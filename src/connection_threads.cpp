#include "connection_threads.hpp"

#include <algorithm>
#include <cerrno>

namespace tcp_server {
namespace {

// pthread attributes owned for the length of one pthread_create call.
class ThreadAttributes {
 public:
  explicit ThreadAttributes(std::size_t stack_size) {
    ::pthread_attr_init(&attributes_);
    ::pthread_attr_setstacksize(&attributes_, stack_size);
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
    : stack_size_(stack_size), max_parked_(max_parked), park_time_(park_time) {}

ConnectionThreads::~ConnectionThreads() {
  join_all();
}

int ConnectionThreads::start(Job job) {
  std::unique_lock lock(mutex_);
  if (stopping_) return ECANCELED;
  join_finished(lock);
  if (!parked_.empty()) {
    Worker* worker = parked_.back();
    parked_.pop_back();
    worker->job = std::move(job);
    worker->wake.notify_one();
    return 0;
  }
  auto worker = std::make_unique<Worker>();
  worker->owner = this;
  worker->job = std::move(job);
  const ThreadAttributes attributes(stack_size_);
  // Created under the lock so that handle is set before the thread can report itself finished.
  const int error = ::pthread_create(&worker->handle, attributes.get(), &thread_main, worker.get());
  if (error != 0) return error;
  live_.push_back(std::move(worker));
  return 0;
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
  // Hand ourselves to the reaper while still holding the lock; after the unlock at return this
  // thread touches nothing of the owner again.
  const auto it = std::find_if(live_.begin(), live_.end(),
                               [&](const auto& candidate) { return candidate.get() == worker; });
  finished_.push_back(std::move(*it));
  live_.erase(it);
  if (live_.empty()) all_exited_.notify_all();
}

void ConnectionThreads::join_finished(std::unique_lock<std::mutex>& lock) {
  if (finished_.empty()) return;
  auto exited = std::move(finished_);
  finished_.clear();
  lock.unlock();
  for (const auto& worker : exited) ::pthread_join(worker->handle, nullptr);
  lock.lock();
}

void ConnectionThreads::join_all() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  for (Worker* worker : parked_) worker->wake.notify_one();
  all_exited_.wait(lock, [&] { return live_.empty(); });
  join_finished(lock);
}

std::size_t ConnectionThreads::thread_count() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

}  // namespace tcp_server
