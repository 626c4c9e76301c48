#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace tcp_server {

// A wait that another thread can cut short for good: --delay's pause before a reply and
// --throttle's between pieces wait here rather than in a bare sleep, so that the drain, its
// deadline and --max-lifetime wake them (a thread asleep in sleep_for() would hold the drain up
// for the whole delay). Once woken, every later wait returns at once. Thread safe.
class WakeableWait {
 public:
  // Waits until deadline; false when woken instead (before or during the wait).
  bool wait_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    return !woken_.wait_until(lock, deadline, [this] { return stopped_; });
  }
  bool wait_for(std::chrono::steady_clock::duration duration) {
    return wait_until(std::chrono::steady_clock::now() + duration);
  }
  // Ends the current wait and every later one.
  void wake() noexcept {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    woken_.notify_all();
  }
  [[nodiscard]] bool woken() {
    std::lock_guard lock(mutex_);
    return stopped_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable woken_;
  bool stopped_ = false;
};

}  // namespace tcp_server
