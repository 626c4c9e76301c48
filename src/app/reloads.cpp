#include "reloads.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "tcp_server/access_rule_files.hpp"
#include "tcp_server/reply_files.hpp"

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

// A pipe (a process substitution that worked at start) would block the signal thread, and so
// every later reload and stop, until something writes to it: only a regular file is re-read.
std::optional<std::string> not_a_regular_file(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || std::filesystem::is_regular_file(status)) return std::nullopt;  // read says why
  return fmt::format("{}: not a regular file, not read again", path);
}

// --reply-file, read as at start; connections accepted from now on send its bytes.
ReloadResult reload_reply_file(const std::string& path, Server& server) {
  if (auto problem = not_a_regular_file(path)) {
    return ReloadResult::failed(fmt::format("{}; the old reply stays", *problem));
  }
  std::string reply;
  try {
    reply = read_reply_file(path);
  } catch (const std::runtime_error& error) {
    return ReloadResult::failed(fmt::format("{}; the old reply stays", error.what()));
  }
  std::string detail =
      fmt::format("{} bytes from {}, for clients that connect from now on", reply.size(), path);
  server.replace_reply(std::move(reply));
  return ReloadResult::reloaded(std::move(detail));
}

// --rules, loaded as at start (the same --encoding); connections accepted from now on answer by
// them.
ReloadResult reload_rules(const std::string& path, const TextEncoding& encoding, Server& server) {
  if (auto problem = not_a_regular_file(path)) {
    return ReloadResult::failed(fmt::format("{}; the old rules stay", *problem));
  }
  std::shared_ptr<const RuleSet> rules;
  try {
    rules = load_rules_file(path, encoding);
  } catch (const std::runtime_error& error) {
    return ReloadResult::failed(fmt::format("{}; the old rules stay", error.what()));
  }
  std::string detail = fmt::format("{} rule{} from {}, for clients that connect from now on",
                                   rules->size(), rules->size() == 1 ? "" : "s", path);
  server.replace_rules(std::move(rules));
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
  if (!options.reply_file.empty()) {
    reloader.add({"reply file", [&path = options.reply_file, &server] {
                    return reload_reply_file(path, server);
                  }});
  }
  if (!options.rules_file.empty()) {
    reloader.add({"rules", [&path = options.rules_file, &encoding = options.server.encoding,
                            &server] { return reload_rules(path, encoding, server); }});
  }
  return reloader;
}

}  // namespace tcp_server
