#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tcp_server {

// The fields of /proc/<pid>/stat that the standard process_* metrics need (proc(5)), in the
// kernel's units: clock ticks, bytes, pages.
struct ProcStat {
  std::uint64_t user_ticks = 0;      // utime, field 14
  std::uint64_t system_ticks = 0;    // stime, field 15
  std::uint64_t threads = 0;         // num_threads, field 20
  std::uint64_t start_ticks = 0;     // starttime, field 22: after boot
  std::uint64_t virtual_bytes = 0;   // vsize, field 23
  std::uint64_t resident_pages = 0;  // rss, field 24
};

// Parses the one line of /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// itself hold spaces and ')', so fields are counted from the last ')'. nullopt when malformed.
std::optional<ProcStat> parse_proc_stat(std::string_view line);

// The "btime" line of /proc/stat: boot time in seconds since the epoch.
std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat);

// This process now, as the Prometheus client libraries define the standard metrics.
struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t threads = 0;
  double start_time_seconds = 0;  // since the epoch
  std::uint64_t open_fds = 0;
  std::optional<std::uint64_t> max_fds;  // RLIMIT_NOFILE (soft); empty when unlimited
};

// Reads /proc/self/stat, /proc/stat, /proc/self/fd and RLIMIT_NOFILE. nullopt when /proc cannot
// be read (then the process_* metrics are left out rather than reported as zero).
std::optional<ProcessStats> read_process_stats();

}  // namespace tcp_server
