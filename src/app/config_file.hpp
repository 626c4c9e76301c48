#pragma once

// --config and --print-config: CLI11 reads the TOML file itself (App::set_config); what is here
// writes the effective configuration back in the same format and turns CLI11's errors about a
// file into one line naming the file, the line and the key.

#include <CLI/CLI.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tcp_server {

// The options of a parsed app as TOML that --config reads back to the same configuration, in
// help-group order, each after its description. Options that were set (on the command line or
// in a file) are written as `name=value`; the others show their default, commented out.
std::string effective_config_toml(const CLI::App& app, std::string_view program_version);

// 1-based number of the first line of a TOML text that sets `key` (`key = ...`, `"key" = ...`,
// or a bare `key` flag); nullopt when none does.
std::optional<std::size_t> line_of_key(std::string_view toml_text, std::string_view key);

// The configurable option an error message of CLI11 is about ("--port: Value 70000 not in
// range", "Could not convert: --port = x", "INI was not able to parse port"); nullptr if none.
const CLI::Option* option_named_in_error(const CLI::App& app, std::string_view message);

// True if an argument of the command line names the option (--name, --name=value, -p, -p9).
bool given_on_command_line(const CLI::Option& option, std::span<const char* const> arguments);

// Where an option's value came from, to name it in an error: "FILE:LINE: key" when the config
// file set it and the command line did not, else "--name".
std::string option_source(const CLI::Option& option, const std::string& config_path,
                          std::span<const char* const> arguments);

// One line for an error that parsing a command line with --config FILE gave: when the file set
// the key the error is about (and the command line did not), "FILE:LINE: key: reason"; for a
// key no option has, "FILE:LINE: unknown option 'key'". Other errors come back as CLI11 said
// them.
std::string describe_config_error(const CLI::App& app, const CLI::ParseError& error,
                                  const std::string& config_path,
                                  std::span<const char* const> arguments);

}  // namespace tcp_server
