#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tcp_server {

// What the running system allows, as probed at start. Every connection holds an fd and a
// thread, so each of these limits bounds how many clients can be served at once. An empty
// value is a limit that does not apply or could not be read: no bound.
struct SystemLimits {
  std::optional<std::uint64_t> open_files;  // RLIMIT_NOFILE (soft)
  // RLIMIT_NPROC (soft): counts every thread of the user, so only what is left after the
  // threads this process has now counts. Empty for root, whom the kernel does not hold to it.
  std::optional<std::uint64_t> user_processes;
  std::uint64_t process_threads = 1;           // threads of this process now
  std::optional<std::uint64_t> threads_max;    // kernel.threads-max, for the whole system
  std::optional<std::uint64_t> pid_max;        // kernel.pid_max: every thread takes a PID
  std::optional<std::uint64_t> max_map_count;  // vm.max_map_count, per process
  std::uint64_t process_mappings = 0;          // mappings of this process now
  // The tightest cgroup pids.max over the process's cgroup and its ancestors ("max": empty),
  // and the pids.current of that same cgroup.
  std::optional<std::uint64_t> cgroup_pids_max;
  std::uint64_t cgroup_pids_current = 0;
};

// The most connections the system can carry, and the limit that sets it.
struct ConnectionCeiling {
  std::size_t limit = 0;
  // "open files", "RLIMIT_NPROC", "pids.max", "kernel.threads-max", "kernel.pid_max",
  // "vm.max_map_count", or "no system limit" when none applies. Static text.
  std::string_view bounded_by;
};

// The lowest of the limits, each with headroom:
//  - open files: minus 32 fds for stdio, the listener, the eventfd, log files and accept();
//  - RLIMIT_NPROC and pids.max: what is left after the threads (PIDs) in use now;
//  - kernel.pid_max and kernel.threads-max are shared by the whole machine: at most half of
//    each, so that one client holding idle connections cannot take every PID on the system;
//  - vm.max_map_count: two mappings per thread (its stack and guard page) of what is left;
// and from every thread-counting bound, threads kept back for the server's own (the accept
// loop, the log writer, ...): 128, or a quarter of a bound smaller than 512. Never below 1.
// Pure: tests pass the values in.
ConnectionCeiling connection_ceiling(const SystemLimits& limits);

// Reads SystemLimits from the running process (getrlimit, /proc, /sys/fs/cgroup). Anything
// unreadable is left empty.
SystemLimits probe_system_limits();

}  // namespace tcp_server
