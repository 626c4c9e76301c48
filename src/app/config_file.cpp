#include "config_file.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "tcp_server/log_format.hpp"

namespace tcp_server {
namespace {

// Descriptions are single long lines in --help; in a file they read better wrapped.
constexpr std::size_t kCommentWidth = 96;

void write_comment(std::ostream& out, const std::string& text) {
  std::istringstream words(text);
  std::string word;
  std::string line = "#";
  while (words >> word) {
    if (line.size() + 1 + word.size() > kCommentWidth && line != "#") {
      out << line << '\n';
      line = "#";
    }
    line += ' ' + word;
  }
  out << line << '\n';
}

// What an option left at its default would be set to, in TOML: a value that reads back as the
// default once the line's '#' is removed. --help's "0 (off)" is written as its value, "0".
std::string default_value(const CLI::Option& option) {
  std::string text = option.get_default_str();
  if (const auto note = text.find(" ("); note != std::string::npos && text.back() == ')') {
    text.erase(note);
  }
  if (!text.empty()) return CLI::detail::convert_arg_for_ini(text);
  if (option.get_expected_min() == 0) return "false";  // a flag
  if (option.get_expected_max() > 1) return "[]";
  return "\"\"";
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every name a file may use for the option: its long names, including a negated flag's.
std::vector<std::string> config_keys(const CLI::Option& option) {
  std::vector<std::string> keys = option.get_lnames();
  for (const auto& name : option.get_fnames()) {
    if (std::find(keys.begin(), keys.end(), name) == keys.end()) keys.push_back(name);
  }
  return keys;
}

}  // namespace

std::string effective_config_toml(const CLI::App& app, std::string_view program_version) {
  std::ostringstream out;
  out << "# " << program_version
      << " configuration, written by --print-config; read with --config.\n"
      << "# `name=value` lines were set; a commented line shows a default: remove its '#' to\n"
      << "# change it. Names are the long options' without the dashes. An option given on the\n"
      << "# command line wins over this file.\n";
  for (const std::string& group : app.get_groups()) {
    bool group_started = false;
    for (const CLI::Option* option : app.get_options()) {
      if (!option->get_configurable() || option->get_group() != group ||
          option->get_lnames().empty()) {
        continue;
      }
      if (!group_started) {
        out << "\n# ---- " << group << " ----\n";
        group_started = true;
      }
      out << '\n';
      if (option->has_description()) write_comment(out, option->get_description());
      const std::string& name = option->get_single_name();
      if (option->count() > 0) {
        out << name << '=' << CLI::detail::ini_join(option->reduced_results()) << '\n';
      } else {
        out << "# " << name << '=' << default_value(*option) << '\n';
      }
    }
  }
  return out.str();
}

std::optional<std::size_t> line_of_key(std::string_view toml_text, std::string_view key) {
  std::size_t number = 0;
  while (!toml_text.empty()) {
    ++number;
    const auto end = toml_text.find('\n');
    std::string_view line = trim(toml_text.substr(0, end));
    toml_text = end == std::string_view::npos ? std::string_view() : toml_text.substr(end + 1);

    const auto equals = line.find('=');
    std::string_view name = trim(line.substr(0, equals));
    if (name.size() >= 2 && (name.front() == '"' || name.front() == '\'') &&
        name.back() == name.front()) {
      name = name.substr(1, name.size() - 2);
    }
    if (name == key) return number;
  }
  return std::nullopt;
}

const CLI::Option* option_named_in_error(const CLI::App& app, std::string_view message) {
  const auto find = [&app](std::string_view name) -> const CLI::Option* {
    for (const CLI::Option* option : app.get_options()) {
      const auto keys = config_keys(*option);
      if (std::find(keys.begin(), keys.end(), name) != keys.end()) return option;
    }
    return nullptr;
  };
  // "INI was not able to parse NAME" and "NAME: This option is not allowed in a configuration
  // file" name the key as the file spelt it; the others name the option as --NAME.
  static constexpr std::string_view kUnknown = "INI was not able to parse ";
  if (message.starts_with(kUnknown)) return find(message.substr(kUnknown.size()));
  for (auto dashes = message.find("--"); dashes != std::string_view::npos;
       dashes = message.find("--", dashes + 2)) {
    auto end = dashes + 2;
    while (end < message.size() && is_name_char(message[end])) ++end;
    if (const CLI::Option* option = find(message.substr(dashes + 2, end - dashes - 2))) {
      return option;
    }
  }
  const auto colon = message.find(':');
  if (colon != std::string_view::npos) return find(message.substr(0, colon));
  return nullptr;
}

bool given_on_command_line(const CLI::Option& option, std::span<const char* const> arguments) {
  for (const std::string_view argument : arguments) {
    if (argument.starts_with("--")) {
      const std::string_view name = argument.substr(2, argument.find('=') - 2);
      const auto keys = config_keys(option);
      if (std::find(keys.begin(), keys.end(), name) != keys.end()) return true;
      continue;
    }
    // A short option, alone (-p 9) or with its value or other flags attached (-p9, -qp 9).
    if (argument.size() < 2 || argument[0] != '-') continue;
    for (const std::string& name : option.get_snames()) {
      if (argument.substr(1).find(name) != std::string_view::npos) return true;
    }
  }
  return false;
}

std::string option_source(const CLI::Option& option, const std::string& config_path,
                          std::span<const char* const> arguments) {
  const std::string on_command_line = "--" + option.get_single_name();
  if (config_path.empty() || given_on_command_line(option, arguments)) return on_command_line;
  const std::string text = read_file(config_path);
  for (const std::string& key : config_keys(option)) {
    if (const auto line = line_of_key(text, key)) {
      return config_path + ":" + std::to_string(*line) + ": " + key;
    }
  }
  return on_command_line;
}

std::string describe_config_error(const CLI::App& app, const CLI::ParseError& error,
                                  const std::string& config_path,
                                  std::span<const char* const> arguments) {
  const std::string message = error.what();
  if (dynamic_cast<const CLI::FileError*>(&error) != nullptr) {
    return "--config " + config_path + ": cannot read the file";
  }
  const std::string text = read_file(config_path);
  const auto at_line = [&](std::string_view key) {
    const auto line = line_of_key(text, key);
    return config_path + (line ? ":" + std::to_string(*line) : std::string()) + ": ";
  };
  // The key comes from the file as it is: shown escaped, like peer bytes in the log.
  constexpr std::size_t kLongestKeyShown = 100;
  static constexpr std::string_view kUnknown = "INI was not able to parse ";
  if (message.starts_with(kUnknown)) {
    std::string key = message.substr(kUnknown.size());
    // CLI11 reports "[name]" as the key "name.++"; no option lives in a section.
    static constexpr std::string_view kSectionStart = ".++";
    if (key.ends_with(kSectionStart)) {
      const std::string section = "[" + key.substr(0, key.size() - kSectionStart.size()) + "]";
      return at_line(section) + "unknown section '" + escape_for_log(section, kLongestKeyShown) +
             "' (options have no sections)";
    }
    // A key under a [section] comes as "section.key".
    const auto dot = key.rfind('.');
    return at_line(dot == std::string::npos ? key : key.substr(dot + 1)) + "unknown option '" +
           escape_for_log(key, kLongestKeyShown) + "'";
  }
  // "KEY: This option is not allowed in a configuration file" can only come from the file.
  static constexpr std::string_view kNotConfigurable =
      ": This option is not allowed in a configuration file";
  if (message.ends_with(kNotConfigurable)) {
    const std::string key = message.substr(0, message.size() - kNotConfigurable.size());
    return at_line(key) + escape_for_log(key, kLongestKeyShown) +
           ": not allowed in a configuration file";
  }
  const CLI::Option* option = option_named_in_error(app, message);
  if (option == nullptr) return message;
  const std::string source = option_source(*option, config_path, arguments);
  if (source.starts_with("--")) return message;
  std::string reason = message;
  // CLI11 names the option first ("--port: Value ..."); the source names it already.
  const std::string prefix = "--" + option->get_single_name() + ": ";
  if (reason.starts_with(prefix)) reason.erase(0, prefix.size());
  return source + ": " + reason;
}

}  // namespace tcp_server
