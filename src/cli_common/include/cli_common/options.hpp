#pragma once

// CLI11 options shared by tcp_server's and tcp_client's command lines, so that a duration, a
// size, an escaped text or an encoding is spelled and checked the same way in both.

#include <CLI/CLI.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "tcp_server/text_encoding.hpp"

namespace tcp_server::cli {

// Normalises "30s"/"250ms"/"2m"/"120" to the largest exact unit ("30s", "250ms", "2m", "2m"),
// or says what is wrong.
CLI::Validator duration_validator();

// NAME DURATION into target (milliseconds); the default shown is target's value ("0 (off)").
CLI::Option* add_duration(CLI::App& app, const std::string& name, std::chrono::milliseconds& target,
                          const std::string& description);

// Turns "64KiB"/"256k"/"1m" into a byte count; k, m, g (with or without "i") are powers of 1024.
CLI::Validator size_value();

// Turns "10KiB/s"/"1m/s"/"512" (bytes a second; the "/s" may be left out) into a byte count
// of at least 1, with size_value()'s units.
CLI::Validator rate_value();

// Decodes \n \r \t \0 \\ \xHH in place, or says which escape is bad.
CLI::Validator escaped_text();

// --encoding NAME: any encoding iconv knows (TextEncoding::named), or one line saying why not.
CLI::Option* add_encoding(CLI::App& app, TextEncoding& target, const std::string& description);

// NAME CHOICE into target: one of the names in choices. The option keeps the name as typed (not
// the enum's number), so --help lists the names and --print-config writes them back.
template <typename Enum>
CLI::Option* add_choice(CLI::App& app, const std::string& name, Enum& target,
                        std::map<std::string, Enum> choices, const std::string& description) {
  std::vector<std::string> names;
  for (const auto& [choice_name, value] : choices) names.push_back(choice_name);
  return app
      .add_option_function<std::string>(
          name,
          [&target, choices = std::move(choices)](const std::string& text) {
            target = choices.at(text);
          },
          description)
      ->type_name("CHOICE")
      ->check(CLI::IsMember(std::move(names)));
}

}  // namespace tcp_server::cli
