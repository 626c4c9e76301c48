#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "tcp_server/config.hpp"

namespace tcp_server {

// What the "Testing" options leave for after parsing: texts that need --encoding, files.
struct TestingTexts {
  std::string banner;      // as typed (escapes decoded later, with --reply's rules)
  std::string reply_file;  // empty: none
  std::string rules_file;  // empty: none
};

// --delay, --jitter, --throttle, --close-after, --reset-after, --max-lifetime, --drop-rate,
// --reset-rate, --seed, --banner, --reply-file, --rules, in the help group "Testing". reply is
// --reply's option, which --reply-file excludes.
void add_testing_options(CLI::App& app, CLI::Option* reply, TestingSettings& testing,
                         TestingTexts& texts);

// Once the whole command line is parsed: encodes the banner, reads the reply file into
// config.reply, loads the rules. The problem in one sentence naming the option (and file, with
// its line for a bad rule), or nothing.
std::optional<std::string> apply_testing_texts(const TestingTexts& texts, ServerConfig& config);

}  // namespace tcp_server
