#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace tcp_server {

// Parses "250ms", "30s", "2m", "1h", "1.5s", or a plain number of seconds ("30", "0.5").
// nullopt for anything else: negative, empty, unknown unit, trailing junk, or beyond a day.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace tcp_server
