#pragma once

#include <sys/eventfd.h>

#include <cstdint>
#include <system_error>

#include "tcp_server/unique_fd.hpp"

namespace tcp_server {

// An eventfd that any thread can signal to wake one poll() loop. notify() is async-signal-safe
// and thread safe; clear() is for the polling thread only.
class Waker {
 public:
  Waker() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!fd_) throw std::system_error(errno, std::system_category(), "eventfd");
  }
  void notify() const noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(fd_.get(), &one, sizeof one);
  }
  void clear() const noexcept {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = ::read(fd_.get(), &count, sizeof count);
  }
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
};

}  // namespace tcp_server
