#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>

#include "tcp_server/access_rule_files.hpp"
#include "tcp_server/config.hpp"
#include "tcp_server/endpoint.hpp"

namespace tcp_server {

// What the executable needs beyond the server's own config.
struct AppOptions {
  ServerConfig server;
  spdlog::level::level_enum log_level = spdlog::level::info;
  std::chrono::milliseconds stats_interval{0};  // 0: no periodic stats line
  std::string log_file;                         // empty: standard output
  std::optional<Endpoint> metrics_listen;       // --metrics-listen; empty: no metrics endpoint
  // Where server.access came from, for SIGHUP to read the files again.
  AccessRuleSources access_sources;
  // --reply-file and --rules (empty: none), for SIGHUP to read again.
  std::string reply_file;
  std::string rules_file;
};

struct CommandLine {
  std::optional<AppOptions> options;  // set when the server should run
  int exit_code = 0;                  // otherwise: exit with this (0 after --help/--version)
};

// argv in, options or an exit code out. --help and --version print to out; an error prints one
// line, "tcp_server: error: <what>. Run with --help for usage.", to err and gives exit code 2.
CommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                               std::ostream& err);

}  // namespace tcp_server
