#include "cli_common/options.hpp"

#include <stdexcept>

#include "tcp_server/duration.hpp"
#include "tcp_server/reply_text.hpp"

namespace tcp_server::cli {
namespace {

// In the largest unit that keeps it exact ("10m", "1500ms"), so that parse_duration reads it
// back the same and a person reads it at a glance.
std::string duration_text(std::chrono::milliseconds duration) {
  const auto count = duration.count();
  if (count == 0) return "0";
  for (const auto& [unit, ms] : {std::pair{"h", 3600000LL}, {"m", 60000LL}, {"s", 1000LL}}) {
    if (count % ms == 0) return std::to_string(count / ms) + unit;
  }
  return std::to_string(count) + "ms";
}

}  // namespace

CLI::Validator duration_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const auto parsed = parse_duration(text);
        if (!parsed) return "'" + text + "' is not a duration (e.g. 500ms, 30s, 2m, 0 for off)";
        // Normalised with its unit, so that --print-config's output reads back the same (a bare
        // number would be seconds).
        text = duration_text(*parsed);
        return {};
      },
      "DURATION");
}

CLI::Option* add_duration(CLI::App& app, const std::string& name, std::chrono::milliseconds& target,
                          const std::string& description) {
  return app
      .add_option_function<std::string>(
          name, [&target](const std::string& text) { target = *parse_duration(text); }, description)
      ->transform(duration_validator())
      ->default_str(target.count() == 0 ? "0 (off)" : duration_text(target));
}

CLI::Validator size_value() {
  return CLI::AsSizeValue(false);
}

CLI::Validator rate_value() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::string typed = text;
        std::string size = text;
        if (size.ends_with("/s")) size.resize(size.size() - 2);
        std::string problem;
        try {
          problem = CLI::AsSizeValue(false)(size);
        } catch (const CLI::ValidationError& error) {
          problem = error.what();
        }
        if (!problem.empty() || size == "0") {
          return "'" + typed + "' is not a rate (bytes a second, e.g. 10KiB/s, 1m/s, 512/s)";
        }
        text = size;
        return {};
      },
      "RATE");
}

CLI::Validator escaped_text() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          text = decode_reply_escapes(text);
          return {};
        } catch (const std::invalid_argument& error) {
          return error.what();
        }
      },
      "TEXT");
}

CLI::Option* add_encoding(CLI::App& app, TextEncoding& target, const std::string& description) {
  return app
      .add_option_function<std::string>(
          "--encoding", [&target](const std::string& name) { target = TextEncoding::named(name); },
          description)
      ->type_name("NAME")
      ->check(CLI::Validator(
          [](std::string& name) -> std::string {
            try {
              (void)TextEncoding::named(name);
              return {};
            } catch (const std::invalid_argument& error) {
              return error.what();
            }
          },
          ""))
      ->default_str("utf-8");
}

}  // namespace tcp_server::cli
