#include "reloads.hpp"

#include <fmt/format.h>

#include "tcp_server/access_rule_files.hpp"

namespace tcp_server {
namespace {

// Reads every --allow-file/--deny-file again and, only when all of them parse, makes the rules
// (with the command line's --allow/--deny, which stay) the ones new clients are checked against.
ReloadResult reload_access_rules(const AccessRuleSources& sources, Server& server) {
  AccessRules rules;
  try {
    rules = load_access_rules(sources);
  } catch (const AccessRuleFileError& error) {
    return ReloadResult::failed(fmt::format("{}; the old rules stay", error.what()));
  }
  std::string detail = describe_access_rules(rules) + ", for clients that connect from now on";
  server.replace_access_rules(std::move(rules));
  return ReloadResult::reloaded(std::move(detail));
}

}  // namespace

Reloader process_reloads(const AppOptions& options, ProcessLog& log, Server& server) {
  Reloader reloader;
  if (!log.log_file().empty()) {
    reloader.add({"log file", [&log] { return log.reopen_log_file(); }});
  }
  if (options.access_sources.has_files()) {
    reloader.add({"access rules", [&sources = options.access_sources, &server] {
                    return reload_access_rules(sources, server);
                  }});
  }
  if (options.server.tls.enabled()) {
    reloader.add({"TLS certificate", [&server] { return server.reload_tls(); }});
  }
  return reloader;
}

}  // namespace tcp_server
