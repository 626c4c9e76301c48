#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

namespace tcp_server {

// What the watch asks of a connection whose lifetime is up. Connection implements it.
class Expirable {
 public:
  // Called once, from the watch's thread, while the connection is still watched (so before it
  // closes its socket): end the connection now, whatever it is doing.
  virtual void expire() noexcept = 0;

 protected:
  ~Expirable() = default;
};

// --max-lifetime: one thread that ends each watched connection at its deadline. A connection
// blocked in recv(), in a --delay or in a slow send has no clock of its own to look at, so
// something outside it must cut it off, the way the drain's deadline does. Thread safe.
class LifetimeWatch {
 public:
  using Clock = std::chrono::steady_clock;

  // A connection's place in the watch, held until it is reset or destroyed (before the
  // connection closes its socket, as with Registration). Move-only.
  class Handle {
   public:
    Handle() noexcept = default;
    Handle(Handle&& other) noexcept
        : watch_(std::exchange(other.watch_, nullptr)), entry_(other.entry_) {}
    Handle& operator=(Handle&& other) noexcept {
      if (this != &other) {
        reset();
        watch_ = std::exchange(other.watch_, nullptr);
        entry_ = other.entry_;
      }
      return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }
    void reset() noexcept;

   private:
    friend class LifetimeWatch;
    Handle(LifetimeWatch* watch, std::pair<Clock::time_point, Expirable*> entry) noexcept
        : watch_(watch), entry_(entry) {}
    LifetimeWatch* watch_ = nullptr;
    std::pair<Clock::time_point, Expirable*> entry_{};
  };

  LifetimeWatch();
  // Stops the thread; every Handle must be gone by then.
  ~LifetimeWatch();
  LifetimeWatch(const LifetimeWatch&) = delete;
  LifetimeWatch& operator=(const LifetimeWatch&) = delete;

  // connection.expire() runs at deadline unless the handle is reset first.
  [[nodiscard]] Handle watch(Expirable& connection, Clock::time_point deadline);

 private:
  void run();
  void remove(const std::pair<Clock::time_point, Expirable*>& entry) noexcept;

  std::mutex mutex_;
  std::condition_variable changed_;
  // Ordered by deadline; a connection's address is unique while it is watched.
  std::set<std::pair<Clock::time_point, Expirable*>> deadlines_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is ready
};

}  // namespace tcp_server
