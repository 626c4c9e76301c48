#include "tcp_server/access_rule_files.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "tcp_server/socket.hpp"
#include "tcp_server/unique_fd.hpp"

namespace tcp_server {
namespace {

// Far more than any real list (a million networks is about 20 MiB), so that a path that never
// ends (/dev/zero, a FIFO someone fills) fails with a reason instead of eating the memory.
constexpr std::size_t kMaxListBytes = 64 * 1024 * 1024;

[[noreturn]] void throw_unreadable(const std::string& path, int error) {
  throw AccessRuleFileError(
      fmt::format("cannot read {}: {}", path, std::generic_category().message(error)));
}

std::string read_whole_file(const std::string& path) {
  const UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) throw_unreadable(path, errno);
  std::string text;
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t n = retry_on_eintr([&] { return ::read(file.get(), chunk, sizeof chunk); });
    if (n < 0) throw_unreadable(path, errno);  // EISDIR for a directory
    if (n == 0) return text;
    text.append(chunk, static_cast<std::size_t>(n));
    if (text.size() > kMaxListBytes) {
      throw AccessRuleFileError(
          fmt::format("{} is larger than {} MiB", path, kMaxListBytes / (1024 * 1024)));
    }
  }
}

}  // namespace

std::vector<Cidr> read_cidr_file(const std::string& path) {
  const std::string text = read_whole_file(path);
  try {
    return parse_cidr_list(text);
  } catch (const CidrListError& error) {
    throw AccessRuleFileError(fmt::format("{}:{}: {}", path, error.line(), error.reason()));
  }
}

void append_cidr_files(const std::vector<std::string>& paths, std::vector<Cidr>& networks) {
  for (const std::string& path : paths) {
    const std::vector<Cidr> list = read_cidr_file(path);
    networks.insert(networks.end(), list.begin(), list.end());
  }
}

AccessRules load_access_rules(const AccessRuleSources& sources) {
  AccessRules rules = sources.fixed;
  append_cidr_files(sources.allow_files, rules.allow);
  append_cidr_files(sources.deny_files, rules.deny);
  return rules;
}

std::string describe_access_rules(const AccessRules& rules) {
  const auto networks = [](std::size_t count) { return count == 1 ? "network" : "networks"; };
  return fmt::format("{} allow {} and {} deny {}", rules.allow.size(), networks(rules.allow.size()),
                     rules.deny.size(), networks(rules.deny.size()));
}

}  // namespace tcp_server
