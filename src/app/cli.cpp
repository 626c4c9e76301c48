#include "cli.hpp"

#include <CLI/CLI.hpp>

#include <map>
#include <ostream>
#include <span>
#include <string>

#include "cli_common/options.hpp"
#include "cli_testing.hpp"
#include "config_file.hpp"
#include "tcp_server/access_rule_files.hpp"
#include "tcp_server/access_rules.hpp"
#include "tcp_server/listen_address.hpp"
#include "tcp_server/log_format.hpp"
#include "tcp_server/reply_text.hpp"
#include "tcp_server/text_encoding.hpp"
#include "tcp_server/tls_settings.hpp"

namespace tcp_server {
namespace {

using cli::add_choice;
using cli::add_duration;

constexpr const char* kProgram = "tcp_server";

void print_error(std::ostream& err, const std::string& what) {
  err << kProgram << ": error: " << what << ". Run with --help for usage.\n";
}

// --tls-*: files are only named here; TlsContext::create reads them at start and says what is
// wrong with them.
void add_tls_options(CLI::App& app, TlsSettings& tls) {
  const auto group = "TLS";
  app.add_option("--tls-cert", tls.cert_path,
                 "Serve TLS with this PEM certificate (then any intermediates); needs --tls-key")
      ->type_name("PATH")
      ->group(group);
  app.add_option("--tls-key", tls.key_path,
                 "The certificate's PEM private key (RSA, ECDSA, Ed25519)")
      ->type_name("PATH")
      ->group(group);
  app.add_flag("--tls-self-signed", tls.self_signed,
               "Serve TLS with a key and certificate generated at start (in memory; for "
               "localhost, 127.0.0.1, ::1 and --host); the log gives its SHA-256 fingerprint")
      ->group(group);
  app.add_option("--tls-cert-out", tls.cert_out_path,
                 "With --tls-self-signed: write the certificate (not the key) here, for clients "
                 "to trust")
      ->type_name("PATH")
      ->group(group);
  app.add_option("--tls-client-ca", tls.client_ca_path,
                 "Mutual TLS: clients must present a certificate this PEM CA signed")
      ->type_name("PATH")
      ->group(group);
  app.add_option_function<std::string>(
         "--tls-verify-client",
         [&tls](const std::string& text) {
           tls.verify_client =
               text == "optional" ? ClientVerification::kOptional : ClientVerification::kRequire;
         },
         "With --tls-client-ca: require a client certificate, or make it optional (one "
         "given must still be valid)")
      ->type_name("require|optional")
      ->check(CLI::IsMember({"require", "optional"}))
      ->default_str("require")
      ->group(group);
  app.add_option_function<std::string>(
         "--tls-min-version",
         [&tls](const std::string& text) { tls.min_version = *parse_tls_version(text); },
         "Oldest TLS version accepted: 1.2 or 1.3 (1.0 and 1.1 are never accepted)")
      ->type_name("VERSION")
      ->default_str("1.2")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            std::string why;
            return parse_tls_version(text, &why) ? std::string() : why;
          },
          "VERSION"))
      ->group(group);
  add_duration(app, "--tls-handshake-timeout", tls.handshake_timeout,
               "Close a client that has not finished its TLS handshake after this long")
      ->group(group);
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
      ->default_str("all")
      ->group("Listening");
  app.add_option("--port,-p", config.listen.port, "TCP port; 0 lets the system choose")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535))
      ->group("Listening");
  app.add_option("--backlog", config.listen.backlog, "Length of the kernel's accept queue")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20))
      ->group("Listening");
  app.add_flag("--reuseport", config.listen.reuse_port,
               "Set SO_REUSEPORT so several servers can share the port")
      ->group("Listening");

  const std::map<std::string, ReplyMode> modes{{"ack", ReplyMode::kAck},
                                               {"echo", ReplyMode::kEcho}};
  add_choice(app, "--mode", config.mode, modes,
             "ack: answer each message with --reply; echo: send back every byte received")
      ->default_str("ack")
      ->group("Replies");
  // --reply and --reject-message are kept as typed and encoded once --encoding is known.
  std::string reply_text = config.reply;
  CLI::Option* reply_option =
      app.add_option("--reply", reply_text,
                     "Answer in ack mode, in --encoding; escapes \\n \\r \\t \\0 \\\\ \\xHH (raw "
                     "bytes). Line framing adds a newline")
          ->capture_default_str()
          ->group("Replies");
  const std::map<std::string, Framing> framings{{"line", Framing::kLine},
                                                {"chunk", Framing::kChunk}};
  add_choice(app, "--framing", config.framing, framings,
             "line: one message per \\n-terminated line; chunk: one per read")
      ->default_str("line")
      ->group("Replies");
  app.add_option("--max-line", config.max_line,
                 "Longest line kept (longer lines are answered once and logged truncated)")
      ->transform(cli::size_value())
      ->default_str("64KiB")
      ->group("Replies");

  const std::map<std::string, spdlog::level::level_enum> levels{
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  add_choice(app, "--log-level", options.log_level, levels,
             "trace, debug, info, warn, error or off")
      ->default_str("info")
      ->group("Logging");
  bool quiet = false;
  app.add_flag("--quiet,-q", quiet,
               "Do not log payloads (connects, disconnects and errors are still logged)")
      ->group("Logging");
  app.add_option("--log-payload-max", config.log_payload_max,
                 "Bytes of a payload shown in its log line; the rest is counted")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->group("Logging");
  cli::add_encoding(app, config.encoding,
                    "The clients' encoding (any iconv knows: gbk, gb18030, big5, shift_jis, ...): "
                    "payloads are decoded from it for the log, --reply and --reject-message "
                    "sent in it")
      ->group("Replies");

  app.add_option("--max-connections", config.max_connections,
                 "Most clients served at once; 0: what the fd and thread limits allow")
      ->capture_default_str()
      ->group("Limits");
  app.add_option("--max-per-ip", config.max_per_ip,
                 "Most clients from one IPv4 address or IPv6 /64; 0: no limit")
      ->capture_default_str()
      ->group("Limits");
  const std::map<std::string, OverflowPolicy> overflows{{"reject", OverflowPolicy::kReject},
                                                        {"defer", OverflowPolicy::kDefer}};
  add_choice(app, "--overflow", config.overflow, overflows,
             "At --max-connections: reject (send --reject-message, close) or defer (leave new "
             "clients queued in the kernel backlog, in order)")
      ->default_str("reject")
      ->group("Limits");
  std::string reject_text;
  app.add_option("--reject-message", reject_text,
                 "Sent to a refused client before closing (in --encoding; escapes as in --reply)")
      ->group("Limits");
  add_duration(app, "--idle-timeout", config.idle_timeout,
               "Close a client that sends nothing for this long (e.g. 5m)")
      ->group("Limits");
  add_duration(app, "--send-timeout", config.send_timeout,
               "Close a client that does not read our reply for this long")
      ->group("Limits");
  add_duration(app, "--drain-timeout", config.drain_timeout,
               "On SIGTERM/SIGINT, how long clients in mid-message may take to finish")
      ->group("Deployment");
  const auto add_networks = [&app](const std::string& name, std::vector<Cidr>& networks,
                                   const std::string& description) {
    return app
        .add_option_function<std::vector<std::string>>(
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
  // The files are read once all options are parsed, and again on each SIGHUP (the supervisor).
  const auto add_network_file = [&app](const std::string& name, std::vector<std::string>& paths,
                                       const std::string& description) {
    return app
        .add_option_function<std::string>(
            name, [&paths](const std::string& path) { paths.push_back(path); }, description)
        ->type_name("PATH");
  };
  const std::map<std::string, ProxyVersions> proxy_versions{{"off", ProxyVersions::kNone},
                                                            {"v1", ProxyVersions::kV1},
                                                            {"v2", ProxyVersions::kV2},
                                                            {"any", ProxyVersions::kAny}};
  add_choice(app, "--proxy-protocol", config.proxy_protocol, proxy_versions,
             "Expect a PROXY protocol header (v1, v2 or any) from every client; the address it "
             "names is the one logged, limited and checked")
      ->default_str("off")
      ->group("Listening");
  add_networks("--trusted-proxy", config.trusted_proxies,
               "A proxy allowed to connect with --proxy-protocol (repeatable); others are "
               "refused")
      ->group("Listening");
  add_duration(app, "--proxy-header-timeout", config.proxy_header_timeout,
               "How long a proxy may take to send its header")
      ->group("Listening");
  AccessRuleSources& access = options.access_sources;
  add_networks("--allow", access.fixed.allow,
               "Serve only clients in this network (repeatable; e.g. 10.0.0.0/8, ::1)")
      ->group("Listening");
  add_networks("--deny", access.fixed.deny,
               "Refuse clients in this network (repeatable; wins over --allow)")
      ->group("Listening");
  add_network_file("--allow-file", access.allow_files,
                   "--allow for each network in a file (one per line, # comments); re-read on "
                   "SIGHUP")
      ->group("Listening");
  add_network_file("--deny-file", access.deny_files,
                   "--deny for each network in a file (one per line, # comments); re-read on "
                   "SIGHUP")
      ->group("Listening");
  const std::map<std::string, LogFormat> log_formats{{"text", LogFormat::kText},
                                                     {"json", LogFormat::kJson}};
  add_choice(app, "--log-format", config.log_format, log_formats,
             "text: one line per event; json: one JSON object per line (for log shippers)")
      ->default_str("text")
      ->group("Logging");
  app.add_option("--log-file", options.log_file,
                 "Append the log to this file instead of standard output; reopened on SIGHUP "
                 "(for logrotate)")
      ->type_name("PATH")
      ->group("Logging");
  add_duration(app, "--stats-interval", options.stats_interval,
               "Log the counters this often (SIGUSR1 logs them at any time)")
      ->group("Logging");
  app.add_flag("--keepalive", config.keepalive.enabled, "Enable TCP keepalive on client sockets")
      ->group("Limits");
  app.add_option_function<int>(
         "--keepalive-idle",
         [&config](int seconds) { config.keepalive.idle = std::chrono::seconds(seconds); },
         "Seconds of silence before the first keepalive probe")
      ->check(CLI::Range(1, 32767))
      ->default_str("60")
      ->group("Limits");
  app.add_option_function<int>(
         "--keepalive-interval",
         [&config](int seconds) { config.keepalive.interval = std::chrono::seconds(seconds); },
         "Seconds between keepalive probes")
      ->check(CLI::Range(1, 32767))
      ->default_str("10")
      ->group("Limits");
  app.add_option("--keepalive-count", config.keepalive.probes,
                 "Unanswered probes before the connection is dropped")
      ->capture_default_str()
      ->check(CLI::Range(1, 127))
      ->group("Limits");
  app.add_flag("--nodelay,!--no-nodelay", config.no_delay,
               "TCP_NODELAY on client sockets, so small replies go out at once (default: on)")
      ->default_str("true")
      ->group("Replies");
  app.add_option("--thread-stack", config.thread_stack, "Stack size of each client thread")
      ->transform(cli::size_value())
      ->default_str("256KiB")
      ->group("Limits");

  // CLI11 reads the file (TOML) after the command line, and only sets options the command line
  // left unset, so a flag typed by hand wins over the file.
  app.set_config("--config", "",
                 "Read options from this TOML file: `port = 9090`, names as the long options "
                 "without the dashes; the command line wins")
      ->type_name("PATH")
      ->group("Deployment");
  app.allow_config_extras(CLI::config_extras_mode::error);
  bool print_config = false;
  app.add_flag("--print-config", print_config,
               "Print the effective configuration (what --config reads) and exit")
      ->configurable(false)
      ->group("Deployment");

  app.add_option_function<std::string>(
         "--metrics-listen",
         [&options](const std::string& text) {
           options.metrics_listen = parse_listen_address(text);
         },
         "Serve Prometheus metrics at http://ADDR:PORT/metrics (IPv4, e.g. 127.0.0.1:9100; "
         "port 0: the system chooses, and the log says which)")
      ->type_name("ADDR:PORT")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            std::string why;
            const auto endpoint = parse_listen_address(text, &why);
            if (!endpoint) return why;
            // Debian 12's civetweb, which serves the metrics, is built without IPv6.
            if (endpoint->is_v6()) return "IPv6 is not supported here; use an IPv4 address";
            return {};
          },
          ""))  // no description: the help shows "ADDR:PORT", not "ADDR:PORT:ADDR:PORT"
      ->group("Operations");
  app.add_flag("--log-hex", config.log_hex,
               "Log payloads as hex dumps (offset, hex, printable column, as xxd); JSON: a "
               "payload_hex field")
      ->group("Testing");
  app.add_option("--pcap", config.pcap_file,
                 "Write every connection's bytes, both ways, to this pcap file (as TCP segments "
                 "with the clients' real addresses, for Wireshark or tshark)")
      ->type_name("FILE")
      ->group("Testing");
  app.add_option("--pcap-max-size", config.pcap_max_size,
                 "Stop writing the pcap file at this size (e.g. 100MiB); 0: no limit")
      ->transform(cli::size_value())
      ->default_str("0")
      ->group("Testing");
  // help2man turns this into the man page's last paragraph.
  app.footer(
      "Signals: SIGTERM or SIGINT stops accepting, drains (--drain-timeout) and exits 0; a "
      "second one exits at once. SIGUSR1 logs the counters. SIGHUP reopens --log-file (for "
      "logrotate) and re-reads --allow-file, --deny-file, --reply-file and --rules for clients "
      "that connect after it; connected clients are left alone, and a file that cannot be read "
      "or parsed keeps what was in force. It also re-reads --tls-cert and --tls-key for new "
      "handshakes (open connections keep theirs; a bad pair keeps the old one).");

  add_tls_options(app, config.tls);

  TestingTexts testing_texts;
  add_testing_options(app, reply_option, config.testing, testing_texts);

  app.failure_message([](const CLI::App*, const CLI::Error& error) {
    return std::string(kProgram) + ": error: " + error.what() + ". Run with --help for usage.\n";
  });

  // The arguments after the program name: an error about an option typed here is not blamed on
  // the config file.
  const std::span<const char* const> arguments =
      argc > 0 ? std::span(argv + 1, static_cast<std::size_t>(argc - 1))
               : std::span<const char* const>();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return {std::nullopt, app.exit(error, out, err)};
    const auto& config_files = app.get_config_ptr()->results();
    if (config_files.empty()) {
      app.exit(error, out, err);
    } else {
      print_error(err, describe_config_error(app, error, config_files.front(), arguments));
    }
    return {std::nullopt, 2};
  }

  config.log_payloads = !quiet;
  config.access = access.fixed;
  const auto read_lists = [&](const char* option, const std::vector<std::string>& paths,
                              std::vector<Cidr>& networks) {
    try {
      append_cidr_files(paths, networks);
      return true;
    } catch (const AccessRuleFileError& error) {
      print_error(err, std::string(option) + ": " + error.what());
      return false;
    }
  };
  if (!read_lists("--allow-file", access.allow_files, config.access.allow) ||
      !read_lists("--deny-file", access.deny_files, config.access.deny)) {
    return {std::nullopt, 2};
  }
  // Every text the server sends is encoded here, once; connections send these bytes as they are.
  const auto& config_files = app.get_config_ptr()->results();
  const auto encode = [&](const char* option, const std::string& typed, std::string& sent) {
    try {
      sent = encode_reply_text(typed, config.encoding);
      return true;
    } catch (const std::invalid_argument& error) {
      print_error(err, option_source(*app.get_option(option),
                                     config_files.empty() ? "" : config_files.front(), arguments) +
                           ": " + error.what());
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
  options.reply_file = testing_texts.reply_file;
  options.rules_file = testing_texts.rules_file;
  const auto problems = config.validate();
  if (!problems.empty()) {
    for (const auto& problem : problems) print_error(err, problem);
    return {std::nullopt, 2};
  }
  if (print_config) {
    out << effective_config_toml(app, std::string(kProgram) + " " + TCP_SERVER_VERSION);
    return {std::nullopt, 0};
  }
  return {std::move(options), 0};
}

}  // namespace tcp_server
