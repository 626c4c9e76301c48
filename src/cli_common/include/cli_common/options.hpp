#pragma once

// CLI11 options shared by tcp_server's and tcp_client's command lines, so that a duration, a
// size, an escaped text or an encoding is spelled and checked the same way in both.

#include <CLI/CLI.hpp>

#include <chrono>
#include <string>

#include "tcp_server/text_encoding.hpp"

namespace tcp_server::cli {

// Turns "30s"/"250ms"/"2m" into a millisecond count, or says what is wrong.
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

}  // namespace tcp_server::cli
