#include "tcp_server/duration.hpp"

#include <charconv>
#include <cmath>
#include <string>

namespace tcp_server {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::size_t digits_end = 0;
  while (digits_end < text.size() &&
         ((text[digits_end] >= '0' && text[digits_end] <= '9') || text[digits_end] == '.')) {
    ++digits_end;
  }
  const std::string number(text.substr(0, digits_end));
  const std::string_view unit = text.substr(digits_end);
  if (number.empty() || number.front() == '.' || number.back() == '.') return std::nullopt;
  double value = 0;
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error != std::errc() || end != number.data() + number.size()) return std::nullopt;

  double milliseconds_per_unit = 0;
  if (unit.empty() || unit == "s") {
    milliseconds_per_unit = 1000;
  } else if (unit == "ms") {
    milliseconds_per_unit = 1;
  } else if (unit == "m" || unit == "min") {
    milliseconds_per_unit = 60'000;
  } else if (unit == "h") {
    milliseconds_per_unit = 3'600'000;
  } else {
    return std::nullopt;
  }
  const double milliseconds = std::round(value * milliseconds_per_unit);
  if (!(milliseconds >= 0) || milliseconds > 86'400'000.0) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(milliseconds));
}

}  // namespace tcp_server
