#include "tcp_server/connection_limit.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <string>

namespace tcp_server {
namespace {

// fds kept back from the connection budget: stdio, the listener, the eventfd, log files, and
// headroom for the accept loop to keep working while every connection is open.
constexpr std::uint64_t kReservedFds = 32;
// Threads kept back from every thread-counting bound for the server's own threads (main, the
// accept loop, the log writer, the signal watcher) and what else the process may start.
constexpr std::uint64_t kReservedThreads = 128;
// When no limit applies (or none could be read).
constexpr std::size_t kNoLimit = std::size_t{1} << 20;

std::size_t to_size(std::uint64_t value) {
  return static_cast<std::size_t>(
      std::min<std::uint64_t>(value, std::numeric_limits<std::size_t>::max()));
}

std::uint64_t left(std::uint64_t limit, std::uint64_t used) {
  return limit > used ? limit - used : 0;
}

// Threads available for connections out of `available`: 128 kept back, or a quarter of a small
// bound, so that a limit of a few hundred still serves most of what it allows. At least 1.
std::size_t after_reserved_threads(std::uint64_t available) {
  const std::uint64_t reserved = std::min(kReservedThreads, available / 4);
  return to_size(std::max<std::uint64_t>(available - reserved, 1));
}

std::size_t after_reserved_fds(std::uint64_t open_files) {
  if (open_files > kReservedFds * 2) return to_size(open_files - kReservedFds);
  return to_size(std::max<std::uint64_t>(open_files / 2, 1));
}

std::optional<std::uint64_t> read_number(const std::string& path) {
  std::ifstream file(path);
  std::uint64_t value = 0;
  if (!(file >> value)) return std::nullopt;  // missing, or "max"
  return value;
}

std::uint64_t process_threads() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "Threads:") {
      std::uint64_t threads = 1;
      status >> threads;
      return std::max<std::uint64_t>(threads, 1);
    }
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 1;
}

std::uint64_t process_mappings() {
  std::ifstream maps("/proc/self/maps");
  std::uint64_t lines = 0;
  for (std::string line; std::getline(maps, line);) ++lines;
  return lines;
}

// The cgroup whose pids.max leaves the fewest PIDs free, walking from the process's cgroup to
// the root of each hierarchy that can hold a pids controller: cgroup v2 (mounted at
// /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems) and v1's pids hierarchy.
void probe_cgroup_pids(SystemLimits& limits) {
  std::ifstream cgroups("/proc/self/cgroup");
  for (std::string line; std::getline(cgroups, line);) {
    // hierarchy-ID:controller-list:cgroup-path
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    // Built by appending: GCC 12 at -O3 warns (-Wrestrict) on "," + std::string&& here.
    std::string controllers = ",";
    controllers.append(line, first + 1, second - first - 1).append(",");
    const std::string path = line.substr(second + 1);
    std::array<std::string, 2> roots;
    if (line.starts_with("0::")) {
      roots = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    } else if (controllers.find(",pids,") != std::string::npos) {
      roots = {"/sys/fs/cgroup/pids", ""};
    } else {
      continue;
    }
    for (const auto& root : roots) {
      if (root.empty()) continue;
      for (std::string at = path;;) {
        const std::string dir = root + at;
        if (const auto max = read_number(dir + "/pids.max")) {
          const std::uint64_t current = read_number(dir + "/pids.current").value_or(0);
          if (!limits.cgroup_pids_max ||
              left(*max, current) < left(*limits.cgroup_pids_max, limits.cgroup_pids_current)) {
            limits.cgroup_pids_max = max;
            limits.cgroup_pids_current = current;
          }
        }
        const auto parent = at.rfind('/');
        if (at.empty() || at == "/" || parent == std::string::npos) break;
        at.resize(parent);
      }
    }
  }
}

}  // namespace

ConnectionCeiling connection_ceiling(const SystemLimits& limits) {
  std::optional<ConnectionCeiling> lowest;  // on a tie, the first named below
  const auto consider = [&lowest](std::size_t limit, std::string_view name) {
    if (!lowest || limit < lowest->limit) lowest = ConnectionCeiling{limit, name};
  };
  if (limits.open_files) consider(after_reserved_fds(*limits.open_files), "open files");
  if (limits.user_processes) {
    consider(after_reserved_threads(left(*limits.user_processes, limits.process_threads)),
             "RLIMIT_NPROC");
  }
  if (limits.cgroup_pids_max) {
    consider(after_reserved_threads(left(*limits.cgroup_pids_max, limits.cgroup_pids_current)),
             "pids.max");
  }
  // Shared by every process on the machine: take at most half.
  if (limits.threads_max) {
    consider(after_reserved_threads(*limits.threads_max / 2), "kernel.threads-max");
  }
  if (limits.pid_max) consider(after_reserved_threads(*limits.pid_max / 2), "kernel.pid_max");
  // Each thread maps its stack and a guard page below it.
  if (limits.max_map_count) {
    consider(after_reserved_threads(left(*limits.max_map_count, limits.process_mappings) / 2),
             "vm.max_map_count");
  }
  return lowest.value_or(ConnectionCeiling{kNoLimit, "no system limit"});
}

SystemLimits probe_system_limits() {
  SystemLimits limits;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limits.open_files = limit.rlim_cur == RLIM_INFINITY ? std::uint64_t{1} << 20 : limit.rlim_cur;
  }
  // The kernel does not hold root to RLIMIT_NPROC (nor holders of CAP_SYS_RESOURCE or
  // CAP_SYS_ADMIN, which are not checked here: the lower limit errs on the safe side).
  if (::geteuid() != 0 && ::getrlimit(RLIMIT_NPROC, &limit) == 0 &&
      limit.rlim_cur != RLIM_INFINITY) {
    limits.user_processes = limit.rlim_cur;
  }
  limits.process_threads = process_threads();
  limits.threads_max = read_number("/proc/sys/kernel/threads-max");
  limits.pid_max = read_number("/proc/sys/kernel/pid_max");
  limits.max_map_count = read_number("/proc/sys/vm/max_map_count");
  limits.process_mappings = process_mappings();
  probe_cgroup_pids(limits);
  return limits;
}

}  // namespace tcp_server
