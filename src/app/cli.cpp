#include "cli.hpp"

#include <CLI/CLI.hpp>

#include <fstream>
#include <iterator>
#include <map>
#include <ostream>
#include <string>

#include "cli_common/options.hpp"
#include "cli_testing.hpp"
#include "tcp_server/access_rules.hpp"
#include "tcp_server/log_format.hpp"
#include "tcp_server/reply_text.hpp"
#include "tcp_server/text_encoding.hpp"

namespace tcp_server {
namespace {

using cli::add_duration;

constexpr const char* kProgram = "tcp_server";

void print_error(std::ostream& err, const std::string& what) {
  err << kProgram << ": error: " << what << ". Run with --help for usage.\n";
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                               std::ostream& err) {
  AppOptions options;
  ServerConfig& config = options.server;

  CLI::App app{
      "A thread-per-connection TCP server: logs every message with its sender's address "
      "and answers it (\"ok\" by default, or an echo).",
      kProgram};
  app.set_version_flag("--version", std::string(kProgram) + " " + TCP_SERVER_VERSION);
  app.get_formatter()->column_width(34);

  app.add_option("--host", config.listen.host,
                 "Address or name to listen on; default: every interface, IPv4 and IPv6")
      ->default_str("all");
  app.add_option("--port,-p", config.listen.port, "TCP port; 0 lets the system choose")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--backlog", config.listen.backlog, "Length of the kernel's accept queue")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_flag("--reuseport", config.listen.reuse_port,
               "Set SO_REUSEPORT so several servers can share the port");

  const std::map<std::string, ReplyMode> modes{{"ack", ReplyMode::kAck},
                                               {"echo", ReplyMode::kEcho}};
  app.add_option("--mode", config.mode,
                 "ack: answer each message with --reply; echo: send back "
                 "every byte received")
      ->transform(CLI::CheckedTransformer(modes))
      ->default_str("ack");
  // --reply and --reject-message are kept as typed and encoded once --encoding is known.
  std::string reply_text = config.reply;
  CLI::Option* reply_option =
      app.add_option("--reply", reply_text,
                     "Answer in ack mode, in --encoding; escapes \\n \\r \\t \\0 \\\\ \\xHH (raw "
                     "bytes). Line framing adds a newline")
          ->capture_default_str();
  const std::map<std::string, Framing> framings{{"line", Framing::kLine},
                                                {"chunk", Framing::kChunk}};
  app.add_option("--framing", config.framing,
                 "line: one message per \\n-terminated line; chunk: one per read")
      ->transform(CLI::CheckedTransformer(framings))
      ->default_str("line");
  app.add_option("--max-line", config.max_line,
                 "Longest line kept (longer lines are answered once and logged truncated)")
      ->transform(cli::size_value())
      ->default_str("64KiB");

  const std::map<std::string, spdlog::level::level_enum> levels{
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off")
      ->transform(CLI::CheckedTransformer(levels))
      ->default_str("info");
  bool quiet = false;
  app.add_flag("--quiet,-q", quiet,
               "Do not log payloads (connects, disconnects and errors are still logged)");
  app.add_option("--log-payload-max", config.log_payload_max,
                 "Bytes of a payload shown in its log line; the rest is counted")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  cli::add_encoding(app, config.encoding,
                    "The clients' encoding (any iconv knows: gbk, gb18030, big5, shift_jis, ...): "
                    "payloads are decoded from it for the log, --reply and --reject-message "
                    "sent in it");

  app.add_option("--max-connections", config.max_connections,
                 "Most clients served at once; 0: what the fd and thread limits allow")
      ->capture_default_str();
  app.add_option("--max-per-ip", config.max_per_ip,
                 "Most clients from one IPv4 address or IPv6 /64; 0: no limit")
      ->capture_default_str();
  const std::map<std::string, OverflowPolicy> overflows{{"reject", OverflowPolicy::kReject},
                                                        {"defer", OverflowPolicy::kDefer}};
  app.add_option("--overflow", config.overflow,
                 "At --max-connections: reject (send --reject-message, close) or defer (leave "
                 "new clients queued in the kernel backlog, in order)")
      ->transform(CLI::CheckedTransformer(overflows))
      ->default_str("reject");
  std::string reject_text;
  app.add_option("--reject-message", reject_text,
                 "Sent to a refused client before closing (in --encoding; escapes as in --reply)");
  add_duration(app, "--idle-timeout", config.idle_timeout,
               "Close a client that sends nothing for this long (e.g. 5m)");
  add_duration(app, "--send-timeout", config.send_timeout,
               "Close a client that does not read our reply for this long");
  add_duration(app, "--drain-timeout", config.drain_timeout,
               "On SIGTERM/SIGINT, how long clients in mid-message may take to finish");
  const auto add_networks = [&app](const std::string& name, std::vector<Cidr>& networks,
                                   const std::string& description) {
    app.add_option_function<std::vector<std::string>>(
           name,
           [&networks](const std::vector<std::string>& texts) {
             for (const auto& text : texts) networks.push_back(*Cidr::parse(text));
           },
           description)
        ->type_name("CIDR")
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
              std::string why;
              return Cidr::parse(text, &why) ? std::string() : why;
            },
            "CIDR"));
  };
  const auto add_network_file = [&app](const std::string& name, std::vector<Cidr>& networks,
                                       const std::string& description) {
    app.add_option_function<std::string>(
           name,
           [&networks](const std::string& path) {
             std::ifstream in(path);
             const std::string text{std::istreambuf_iterator<char>(in),
                                    std::istreambuf_iterator<char>()};
             for (const Cidr& network : parse_cidr_list(text)) networks.push_back(network);
           },
           description)
        ->type_name("PATH")
        ->check(CLI::Validator(
            [](std::string& path) -> std::string {
              std::ifstream in(path);
              if (!in) return "cannot read " + path;
              const std::string text{std::istreambuf_iterator<char>(in),
                                     std::istreambuf_iterator<char>()};
              try {
                (void)parse_cidr_list(text);
              } catch (const std::invalid_argument& error) {
                return path + ": " + error.what();
              }
              return {};
            },
            "PATH"));
  };
  const std::map<std::string, ProxyVersions> proxy_versions{
      {"v1", ProxyVersions::kV1}, {"v2", ProxyVersions::kV2}, {"any", ProxyVersions::kAny}};
  app.add_option("--proxy-protocol", config.proxy_protocol,
                 "Expect a PROXY protocol header (v1, v2 or any) from every client; the "
                 "address it names is the one logged, limited and checked")
      ->transform(CLI::CheckedTransformer(proxy_versions))
      ->default_str("off");
  add_networks("--trusted-proxy", config.trusted_proxies,
               "A proxy allowed to connect with --proxy-protocol (repeatable); others are "
               "refused");
  add_duration(app, "--proxy-header-timeout", config.proxy_header_timeout,
               "How long a proxy may take to send its header");
  add_networks("--allow", config.access.allow,
               "Serve only clients in this network (repeatable; e.g. 10.0.0.0/8, ::1)");
  add_networks("--deny", config.access.deny,
               "Refuse clients in this network (repeatable; wins over --allow)");
  add_network_file("--allow-file", config.access.allow,
                   "--allow for each network in a file (one per line, # comments)");
  add_network_file("--deny-file", config.access.deny,
                   "--deny for each network in a file (one per line, # comments)");
  const std::map<std::string, LogFormat> log_formats{{"text", LogFormat::kText},
                                                     {"json", LogFormat::kJson}};
  app.add_option("--log-format", config.log_format,
                 "text: one line per event; json: one JSON object per line (for log shippers)")
      ->transform(CLI::CheckedTransformer(log_formats))
      ->default_str("text");
  app.add_option("--log-file", options.log_file,
                 "Append the log to this file instead of standard output")
      ->type_name("PATH");
  add_duration(app, "--stats-interval", options.stats_interval,
               "Log the counters this often (SIGUSR1 logs them at any time)");
  app.add_flag("--keepalive", config.keepalive.enabled, "Enable TCP keepalive on client sockets");
  app.add_option_function<int>(
         "--keepalive-idle",
         [&config](int seconds) { config.keepalive.idle = std::chrono::seconds(seconds); },
         "Seconds of silence before the first keepalive probe")
      ->check(CLI::Range(1, 32767))
      ->default_str("60");
  app.add_option_function<int>(
         "--keepalive-interval",
         [&config](int seconds) { config.keepalive.interval = std::chrono::seconds(seconds); },
         "Seconds between keepalive probes")
      ->check(CLI::Range(1, 32767))
      ->default_str("10");
  app.add_option("--keepalive-count", config.keepalive.probes,
                 "Unanswered probes before the connection is dropped")
      ->capture_default_str()
      ->check(CLI::Range(1, 127));
  app.add_flag("--nodelay,!--no-nodelay", config.no_delay,
               "TCP_NODELAY on client sockets, so small replies go out at once (default: on)");
  app.add_option("--thread-stack", config.thread_stack, "Stack size of each client thread")
      ->transform(cli::size_value())
      ->default_str("256KiB");
  TestingTexts testing_texts;
  add_testing_options(app, reply_option, config.testing, testing_texts);

  app.failure_message([](const CLI::App*, const CLI::Error& error) {
    return std::string(kProgram) + ": error: " + error.what() + ". Run with --help for usage.\n";
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return {std::nullopt, error.get_exit_code() == 0 ? app.exit(error, out, err)
                                                     : (app.exit(error, out, err), 2)};
  }

  config.log_payloads = !quiet;
  // Every text the server sends is encoded here, once; connections send these bytes as they are.
  const auto encode = [&](const char* option, const std::string& typed, std::string& sent) {
    try {
      sent = encode_reply_text(typed, config.encoding);
      return true;
    } catch (const std::invalid_argument& error) {
      print_error(err, std::string(option) + ": " + error.what());
      return false;
    }
  };
  if (!encode("--reply", reply_text, config.reply) ||
      !encode("--reject-message", reject_text, config.reject_message)) {
    return {std::nullopt, 2};
  }
  if (auto problem = apply_testing_texts(testing_texts, config)) {
    print_error(err, *problem);
    return {std::nullopt, 2};
  }
  const auto problems = config.validate();
  if (!problems.empty()) {
    for (const auto& problem : problems) print_error(err, problem);
    return {std::nullopt, 2};
  }
  return {std::move(options), 0};
}

}  // namespace tcp_server
