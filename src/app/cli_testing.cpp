#include "cli_testing.hpp"

#include <charconv>
#include <limits>
#include <stdexcept>

#include "cli_common/options.hpp"
#include "tcp_server/reply_files.hpp"
#include "tcp_server/reply_text.hpp"

namespace tcp_server {

void add_testing_options(CLI::App& app, CLI::Option* reply, TestingSettings& testing,
                         TestingTexts& texts) {
  constexpr const char* kGroup = "Testing";
  constexpr std::uint64_t kMaxCount = 1'000'000'000;
  cli::add_duration(app, "--delay", testing.delay, "Wait this long before each reply")
      ->group(kGroup);
  cli::add_duration(app, "--jitter", testing.jitter,
                    "Add a random 0..this to each --delay (uniform; see --seed)")
      ->group(kGroup);
  app.add_option("--throttle", testing.throttle_bytes_per_second,
                 "Send replies at most this fast, in small pieces (e.g. 10KiB/s): a slow link")
      ->transform(cli::rate_value())
      ->default_str("off")
      ->group(kGroup);
  app.add_option("--close-after", testing.close_after,
                 "Close the connection (FIN) after its N-th reply")
      ->check(CLI::Range(std::uint64_t{1}, kMaxCount))
      ->type_name("N")
      ->default_str("off")
      ->group(kGroup);
  app.add_option("--reset-after", testing.reset_after,
                 "Reset the connection (RST) after its N-th reply")
      ->check(CLI::Range(std::uint64_t{1}, kMaxCount))
      ->type_name("N")
      ->default_str("off")
      ->group(kGroup);
  cli::add_duration(app, "--max-lifetime", testing.max_lifetime,
                    "Close each connection this long after it opened, whatever it is doing")
      ->group(kGroup);
  app.add_option("--drop-rate", testing.drop_rate,
                 "Share of messages (0..1) left unanswered on purpose, each logged as dropped")
      ->check(CLI::Range(0.0, 1.0))
      ->type_name("P")
      ->capture_default_str()
      ->group(kGroup);
  app.add_option("--reset-rate", testing.reset_rate,
                 "Share of connections (0..1) reset as soon as they are accepted")
      ->check(CLI::Range(0.0, 1.0))
      ->type_name("P")
      ->capture_default_str()
      ->group(kGroup);
  app.add_option("--seed", testing.seed,
                 "Seed of the random choices (--jitter, --drop-rate, --reset-rate), so that a "
                 "run can be repeated; the one in use is logged at start")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            // CLI11 would wrap "-3" round to a huge unsigned number, and let one too large for
            // 64 bits through.
            std::uint64_t value = 0;
            const char* end = text.data() + text.size();
            const auto [stop, error] = std::from_chars(text.data(), end, value);
            if (text.empty() || error != std::errc() || stop != end) {
              return "'" + text + "' is not a whole number from 0 to 18446744073709551615";
            }
            return {};
          },
          "N"))
      ->type_name("N")
      ->default_str("random")
      ->group(kGroup);
  app.add_option("--banner", texts.banner,
                 "Sent as soon as a client is admitted, before it says anything (escapes and "
                 "encoding as --reply; line framing adds a newline)")
      ->group(kGroup);
  app.add_option("--reply-file", texts.reply_file,
                 "The reply is this file's bytes, exactly (read again on SIGHUP)")
      ->type_name("PATH")
      ->excludes(reply)
      ->group(kGroup);
  app.add_option("--rules", texts.rules_file,
                 "Answer each message by the first rule (REGEX => ACTION, one a line) whose RE2 "
                 "regex matches all of it; --reply when none does")
      ->type_name("FILE")
      ->group(kGroup);
}

std::optional<std::string> apply_testing_texts(const TestingTexts& texts, ServerConfig& config) {
  if (!texts.banner.empty()) {
    try {
      config.testing.banner = encode_reply_text(texts.banner, config.encoding);
    } catch (const std::invalid_argument& error) {
      return std::string("--banner: ") + error.what();
    }
  }
  // The same reads as SIGHUP's (src/app/reloads.cpp), so a file accepted here reloads alike.
  if (!texts.reply_file.empty()) {
    try {
      config.reply = read_reply_file(texts.reply_file);
    } catch (const std::runtime_error& error) {
      return std::string("--reply-file ") + error.what();
    }
    config.testing.reply_verbatim = true;
  }
  if (!texts.rules_file.empty()) {
    try {
      config.testing.rules = load_rules_file(texts.rules_file, config.encoding);
    } catch (const std::runtime_error& error) {
      return std::string("--rules ") + error.what();  // "path:line: reason"
    }
  }
  return std::nullopt;
}

}  // namespace tcp_server
