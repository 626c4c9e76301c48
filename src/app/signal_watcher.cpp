#include "signal_watcher.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "tcp_server/socket.hpp"

namespace tcp_server {

SignalWatcher::SignalWatcher(std::initializer_list<int> signals) {
  ::sigemptyset(&signals_);
  for (const int signal : signals) ::sigaddset(&signals_, signal);
  if (const int error = ::pthread_sigmask(SIG_BLOCK, &signals_, &previous_mask_); error != 0) {
    throw std::system_error(error, std::system_category(), "pthread_sigmask");
  }
  signal_fd_.reset(::signalfd(-1, &signals_, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd_) throw std::system_error(errno, std::system_category(), "signalfd");
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw std::system_error(errno, std::system_category(), "eventfd");
}

SignalWatcher::~SignalWatcher() {
  ::pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

int SignalWatcher::wait(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{signal_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
  const int timeout_ms = timeout.count() < 0 ? -1 : static_cast<int>(timeout.count());
  const int ready = retry_on_eintr([&] { return ::poll(fds, 2, timeout_ms); });
  if (ready < 0) throw std::system_error(errno, std::system_category(), "poll");
  if (ready == 0) return kTimedOut;
  if (fds[0].revents != 0) {
    signalfd_siginfo info{};
    if (::read(signal_fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      return static_cast<int>(info.ssi_signo);
    }
  }
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = ::read(wake_fd_.get(), &count, sizeof count);
  return kWoken;
}

void SignalWatcher::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_.get(), &one, sizeof one);
}

}  // namespace tcp_server
