#pragma once

#include <signal.h>

#include <chrono>
#include <initializer_list>

#include "tcp_server/unique_fd.hpp"

namespace tcp_server {

// Receives signals as data instead of in a handler: the signals are blocked and read from a
// signalfd, so no unsafe work can happen in async-signal context and no global state is needed.
// Construct it before starting any thread: threads inherit the blocked mask, so the signals
// reach the signalfd instead of killing or interrupting a random thread.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::initializer_list<int> signals);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  static constexpr int kTimedOut = 0;
  static constexpr int kWoken = -1;
  // The next signal's number, kTimedOut after timeout (negative: wait forever), or kWoken after
  // wake(). For one thread only.
  int wait(std::chrono::milliseconds timeout);
  // Makes wait() return kWoken. Thread safe.
  void wake() noexcept;

 private:
  sigset_t signals_{};
  sigset_t previous_mask_{};
  UniqueFd signal_fd_;
  UniqueFd wake_fd_;
};

}  // namespace tcp_server
