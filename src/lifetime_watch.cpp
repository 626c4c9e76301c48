#include "lifetime_watch.hpp"

namespace tcp_server {

void LifetimeWatch::Handle::reset() noexcept {
  if (watch_ == nullptr) return;
  std::exchange(watch_, nullptr)->remove(entry_);
}

LifetimeWatch::LifetimeWatch() : thread_([this] { run(); }) {}

LifetimeWatch::~LifetimeWatch() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

LifetimeWatch::Handle LifetimeWatch::watch(Expirable& connection, Clock::time_point deadline) {
  const std::pair entry{deadline, &connection};
  bool earliest = false;
  {
    std::lock_guard lock(mutex_);
    const auto inserted = deadlines_.insert(entry).first;
    earliest = inserted == deadlines_.begin();
  }
  if (earliest) changed_.notify_all();
  return Handle(this, entry);
}

void LifetimeWatch::remove(const std::pair<Clock::time_point, Expirable*>& entry) noexcept {
  // Under the lock, so that once this returns expire() is neither running nor to come.
  std::lock_guard lock(mutex_);
  deadlines_.erase(entry);
}

void LifetimeWatch::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (deadlines_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const auto first = deadlines_.begin();
    // A copy: the entry may be removed while the lock is released.
    const Clock::time_point deadline = first->first;
    if (Clock::now() < deadline) {
      changed_.wait_until(lock, deadline);
      continue;
    }
    Expirable* connection = first->second;
    deadlines_.erase(first);
    connection->expire();
  }
}

}  // namespace tcp_server
