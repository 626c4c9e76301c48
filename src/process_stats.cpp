#include "tcp_server/process_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace tcp_server {
namespace {

std::optional<std::uint64_t> to_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::string> read_text(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Entries of /proc/self/fd, less the one the directory listing itself holds open.
std::optional<std::uint64_t> count_open_fds() {
  std::error_code error;
  std::filesystem::directory_iterator entries("/proc/self/fd", error);
  if (error) return std::nullopt;
  std::uint64_t count = 0;
  for (auto it = entries; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) return std::nullopt;
    ++count;
  }
  return count > 0 ? count - 1 : 0;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view line) {
  const auto name_end = line.rfind(')');
  if (name_end == std::string_view::npos) return std::nullopt;
  // Fields 3 (state) to 24 (rss), split on single spaces as the kernel writes them.
  constexpr std::size_t kFirstField = 3;
  constexpr std::size_t kLastField = 24;
  std::array<std::string_view, kLastField - kFirstField + 1> fields;
  std::string_view rest = line.substr(name_end + 1);
  for (auto& field : fields) {
    if (rest.empty() || rest.front() != ' ') return std::nullopt;
    rest.remove_prefix(1);
    const auto end = std::min(rest.find_first_of(" \n"), rest.size());
    field = rest.substr(0, end);
    rest.remove_prefix(end);
  }
  const auto number = [&fields](std::size_t field) {
    return to_number(fields[field - kFirstField]);
  };
  const auto user = number(14), system = number(15), threads = number(20), start = number(22),
             virtual_bytes = number(23), resident = number(24);
  if (!user || !system || !threads || !start || !virtual_bytes || !resident) return std::nullopt;
  return ProcStat{.user_ticks = *user,
                  .system_ticks = *system,
                  .threads = *threads,
                  .start_ticks = *start,
                  .virtual_bytes = *virtual_bytes,
                  .resident_pages = *resident};
}

std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat) {
  constexpr std::string_view kKey = "btime ";
  std::size_t at = 0;
  while (at < proc_stat.size()) {
    const auto end = std::min(proc_stat.find('\n', at), proc_stat.size());
    const std::string_view line = proc_stat.substr(at, end - at);
    if (line.starts_with(kKey)) return to_number(line.substr(kKey.size()));
    at = end + 1;
  }
  return std::nullopt;
}

std::optional<ProcessStats> read_process_stats() {
  const auto stat_line = read_text("/proc/self/stat");
  const auto system_stat = read_text("/proc/stat");
  if (!stat_line || !system_stat) return std::nullopt;
  const auto stat = parse_proc_stat(*stat_line);
  const auto boot_time = parse_boot_time(*system_stat);
  const auto open_fds = count_open_fds();
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (!stat || !boot_time || !open_fds || ticks_per_second <= 0 || page_size <= 0) {
    return std::nullopt;
  }
  const auto ticks = static_cast<double>(ticks_per_second);
  ProcessStats result;
  result.cpu_seconds = static_cast<double>(stat->user_ticks + stat->system_ticks) / ticks;
  result.resident_bytes = stat->resident_pages * static_cast<std::uint64_t>(page_size);
  result.virtual_bytes = stat->virtual_bytes;
  result.threads = stat->threads;
  result.start_time_seconds =
      static_cast<double>(*boot_time) + static_cast<double>(stat->start_ticks) / ticks;
  result.open_fds = *open_fds;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    result.max_fds = limit.rlim_cur;
  }
  return result;
}

}  // namespace tcp_server
