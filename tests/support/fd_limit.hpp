#pragma once

#include <sys/resource.h>

#include <cstddef>
#include <string>

namespace tcp_server::testing {

// Raises this process's soft RLIMIT_NOFILE to at least wanted (a common `ulimit -n 1024` is far
// below what a test with thousands of loopback connections needs: two fds per connection in
// process). False, with the reason, when the hard limit is too low: the test should skip.
inline bool ensure_open_file_limit(std::size_t wanted, std::string& why_not) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    why_not = "getrlimit(RLIMIT_NOFILE) failed";
    return false;
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur >= wanted) return true;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted) {
    why_not = "needs " + std::to_string(wanted) + " open files, but the hard limit is " +
              std::to_string(limit.rlim_max) + " (raise it with ulimit -Hn)";
    return false;
  }
  limit.rlim_cur = wanted;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    why_not = "setrlimit(RLIMIT_NOFILE, " + std::to_string(wanted) + ") failed";
    return false;
  }
  return true;
}

}  // namespace tcp_server::testing
