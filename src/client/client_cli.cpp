#include "client_cli.hpp"

#include <CLI/CLI.hpp>

#include <map>
#include <ostream>
#include <string>

#include "cli_common/options.hpp"
#include "message_template.hpp"
#include "tls_client.hpp"

namespace tcp_server::client {
namespace {

constexpr const char* kProgram = "tcp_client";
// Every run is bounded; an hour is more than any benchmark here needs.
constexpr std::chrono::milliseconds kLongestRun = std::chrono::hours(1);

void add_target(CLI::App& command, Target& target) {
  command.add_option("--host", target.host, "Server address or name")->capture_default_str();
  command.add_option("--port,-p", target.port, "Server port")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
}

// The TLS group, the same for every command; bench adds --tls-resume itself. Every other
// --tls-* option needs --tls, so a forgotten --tls is an error rather than a plaintext run.
CLI::Option* add_tls(CLI::App& command, TlsClientOptions& tls) {
  constexpr const char* kGroup = "TLS";
  CLI::Option* enabled = command
                             .add_flag("--tls", tls.enabled,
                                       "Speak TLS (1.2 or 1.3); verifies the server's "
                                       "certificate and name unless told otherwise")
                             ->group(kGroup);
  CLI::Option* ca = command
                        .add_option("--tls-ca", tls.ca_file,
                                    "PEM file of CA certificates to verify the server against "
                                    "(default: the system's trust store)")
                        ->type_name("PATH")
                        ->needs(enabled)
                        ->group(kGroup);
  CLI::Option* pin =
      command
          .add_option("--tls-pin", tls.pin,
                      "Accept exactly the server certificate with this SHA-256 fingerprint "
                      "(of its DER; hex, colons optional) instead of CA verification")
          ->type_name("SHA256")
          ->needs(enabled)
          ->excludes(ca)
          ->check(CLI::Validator(
              [](std::string& text) -> std::string {
                if (parse_sha256_fingerprint(text)) return {};
                return "'" + text +
                       "' is not a SHA-256 fingerprint (64 hex digits, colons "
                       "optional)";
              },
              "SHA256"))
          ->group(kGroup);
  command
      .add_flag("--tls-insecure", tls.insecure,
                "Do not verify the server's certificate at all (says so on stderr)")
      ->needs(enabled)
      ->excludes(ca)
      ->excludes(pin)
      ->group(kGroup);
  command
      .add_option("--tls-server-name", tls.server_name,
                  "Name sent as SNI and verified against the certificate (default: --host)")
      ->type_name("NAME")
      ->needs(enabled)
      ->group(kGroup);
  CLI::Option* cert = command
                          .add_option("--tls-cert", tls.cert_file,
                                      "PEM client certificate (chain allowed), for mutual TLS")
                          ->type_name("PATH")
                          ->needs(enabled)
                          ->group(kGroup);
  CLI::Option* key = command.add_option("--tls-key", tls.key_file, "PEM key of --tls-cert")
                         ->type_name("PATH")
                         ->needs(enabled)
                         ->needs(cert)
                         ->group(kGroup);
  cert->needs(key);
  return enabled;
}

}  // namespace

ClientCommandLine parse_client_command_line(int argc, const char* const* argv, std::ostream& out,
                                            std::ostream& err) {
  ClientCommandLine parsed;
  CLI::App app{
      "Talks to a TCP server: concurrent clients (send), interactive (chat), or "
      "load generation with latency figures (bench).",
      kProgram};
  app.set_version_flag("--version", std::string(kProgram) + " " + TCP_SERVER_VERSION);
  app.require_subcommand(1);
  app.get_formatter()->column_width(34);

  SendOptions& send = parsed.send;
  CLI::App* send_command =
      app.add_subcommand("send", "N concurrent clients each send K messages and print every reply");
  add_target(*send_command, send.target);
  send_command->add_option("--clients,-n", send.clients, "Concurrent clients (a thread each)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000}));
  send_command->add_option("--count,-k", send.count, "Messages per client")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  // Kept as typed and encoded once --encoding is known.
  std::string message_text = send.message;
  send_command
      ->add_option("--message,-m", message_text,
                   "Message, in --encoding; {id} is the client number, {n} the message number; "
                   "escapes as \\n \\t \\xHH (raw bytes)")
      ->capture_default_str();
  send_command->add_flag("!--no-newline", send.append_newline,
                         "Do not end each message with a newline (for chunk-framed servers)");
  const std::map<std::string, ReplyFraming> framings{{"line", ReplyFraming::kLine},
                                                     {"chunk", ReplyFraming::kChunk}};
  send_command
      ->add_option("--reply-framing", send.reply_framing,
                   "line: a reply ends at a newline; chunk: a reply is what one read returns")
      ->transform(CLI::CheckedTransformer(framings))
      ->default_str("line");
  cli::add_duration(*send_command, "--timeout", send.timeout, "Connect and reply timeout");
  cli::add_encoding(*send_command, send.encoding,
                    "The server's encoding (any iconv knows: gbk, gb18030, big5, ...): "
                    "--message is sent in it, replies are decoded from it for display");
  add_tls(*send_command, send.tls);

  ChatOptions& chat = parsed.chat;
  CLI::App* chat_command = app.add_subcommand(
      "chat", "Interactive, like nc: stdin goes to the server, replies to stdout");
  add_target(*chat_command, chat.target);
  cli::add_duration(*chat_command, "--timeout", chat.timeout,
                    "Connect timeout, and how long to wait for the server to close after EOF");
  add_tls(*chat_command, chat.tls);

  BenchOptions& bench = parsed.bench;
  CLI::App* bench_command = app.add_subcommand(
      "bench", "Load generation: pingpong, churn or hold; every reply checked; latency figures");
  add_target(*bench_command, bench.target);
  const std::map<std::string, BenchMode> modes{
      {"pingpong", BenchMode::kPingpong}, {"churn", BenchMode::kChurn}, {"hold", BenchMode::kHold}};
  bench_command
      ->add_option("--mode", bench.mode,
                   "pingpong: request/reply on persistent connections; churn: connect, "
                   "request, close, repeat; hold: open many, idle, check each answers")
      ->transform(CLI::CheckedTransformer(modes))
      ->default_str("pingpong");
  bench_command->add_option("--connections,-c", bench.connections, "Connections (pingpong, hold)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  bench_command->add_option("--pipeline", bench.pipeline, "Requests in flight per connection")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1024}));
  bench_command->add_option("--concurrency", bench.concurrency, "Connections at once (churn)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
  bench_command->add_option("--threads,-t", bench.threads, "Event-loop threads")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{64}));
  cli::add_duration(*bench_command, "--duration,-d", bench.duration,
                    "How long pingpong and churn run");
  cli::add_duration(*bench_command, "--hold-time", bench.hold_time,
                    "How long hold keeps its connections idle");
  cli::add_duration(*bench_command, "--timeout", bench.timeout, "Connect and reply timeout");
  bench_command->add_option("--message,-m", bench.message, "Request bytes (escapes as \\n \\xHH)")
      ->capture_default_str()
      ->transform(cli::escaped_text());
  bench_command->add_option("--expect", bench.expect, "Exact reply expected for each request")
      ->capture_default_str()
      ->transform(cli::escaped_text());
  bool echo = false;
  bench_command->add_flag("--echo", echo, "Expect the request back (an echo server)");
  bench_command->add_flag("--json", bench.json, "Print the result as one JSON object");
  bench_command->add_flag("!--no-progress", bench.progress,
                          "No progress line each second on stderr");
  CLI::Option* bench_tls = add_tls(*bench_command, bench.tls);
  bench_command
      ->add_flag("--tls-resume", bench.tls.resume,
                 "Offer the newest TLS session ticket received (reused until a newer one "
                 "comes) instead of a full handshake; the report says how many handshakes the "
                 "server really resumed")
      ->needs(bench_tls)
      ->group("TLS");

  app.failure_message([](const CLI::App*, const CLI::Error& error) {
    return std::string(kProgram) + ": error: " + error.what() + ". Run with --help for usage.\n";
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    parsed.exit_code = app.exit(error, out, err);
    if (parsed.exit_code != 0) parsed.exit_code = 2;
    return parsed;
  }

  const auto fail = [&](const std::string& what) {
    err << kProgram << ": error: " << what << ". Run with --help for usage.\n";
    parsed.exit_code = 2;
    return parsed;
  };
  if (send_command->parsed()) {
    try {
      send.message = encode_message_template(message_text, send.encoding);
    } catch (const std::invalid_argument& error) {
      return fail(std::string("--message: ") + error.what());
    }
    if (send.message.empty() && !send.append_newline) return fail("--message is empty");
    parsed.command = Command::kSend;
  } else if (chat_command->parsed()) {
    parsed.command = Command::kChat;
  } else {
    if (echo) bench.expect = bench.message;
    if (bench.message.empty()) return fail("--message is empty");
    if (bench.expect.empty()) return fail("--expect is empty");
    if (bench.duration <= std::chrono::milliseconds(0) || bench.duration > kLongestRun) {
      return fail("--duration must be more than 0 and at most 1h");
    }
    if (bench.hold_time > kLongestRun) return fail("--hold-time must be at most 1h");
    if (bench.timeout <= std::chrono::milliseconds(0)) return fail("--timeout must be more than 0");
    parsed.command = Command::kBench;
  }
  if (send.timeout <= std::chrono::milliseconds(0) ||
      chat.timeout <= std::chrono::milliseconds(0)) {
    return fail("--timeout must be more than 0");
  }
  return parsed;
}

}  // namespace tcp_server::client
