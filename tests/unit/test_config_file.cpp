// --config FILE (TOML, read by CLI11) and --print-config, through parse_command_line; and the
// pure helpers that point an error at the file's line.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli.hpp"
#include "config_file.hpp"
#include "parse_command_line.hpp"

namespace tcp_server {
namespace {

// A file under /tmp holding the given text, removed when the test is done with it.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    const int fd = ::mkstemp(path_.data());
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_ = "/tmp/tcp_server_config_test_XXXXXX";
};

using testing::parse;
using testing::Parsed;

std::size_t lines_in(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(ConfigFile, OptionsInTheFileLandInTheConfig) {
  const TempFile file(
      "# a comment\n"
      "port = 7000\n"
      "mode = \"echo\"\n"
      "idle-timeout = \"1.5s\"\n"
      "max-line = \"2KiB\"\n"
      "allow = [\"10.0.0.0/8\", \"::1\"]\n"
      "quiet = true\n"
      "no-nodelay = true\n"
      "reply = \"+PONG\\r\\n\"\n"
      "log-level = \"debug\"\n");
  const auto parsed = parse({"--config", file.path()});
  ASSERT_TRUE(parsed.result.options.has_value()) << parsed.err;
  const ServerConfig& config = parsed.result.options->server;
  EXPECT_EQ(config.listen.port, 7000);
  EXPECT_EQ(config.mode, ReplyMode::kEcho);
  EXPECT_EQ(config.idle_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(config.max_line, 2048u);
  ASSERT_EQ(config.access.allow.size(), 2u);
  EXPECT_EQ(config.access.allow[1].to_string(), "::1/128");
  EXPECT_FALSE(config.log_payloads);
  EXPECT_FALSE(config.no_delay);
  EXPECT_EQ(config.reply, "+PONG\r\n");
  EXPECT_EQ(parsed.result.options->log_level, spdlog::level::debug);
}

TEST(ConfigFile, TheCommandLineWinsOverTheFile) {
  const TempFile file("port = 7000\nmode = \"echo\"\nallow = [\"10.0.0.0/8\", \"::1\"]\n");
  const auto parsed = parse({"--port", "8000", "--config", file.path(), "--allow", "192.0.2.0/24"});
  ASSERT_TRUE(parsed.result.options.has_value()) << parsed.err;
  const ServerConfig& config = parsed.result.options->server;
  EXPECT_EQ(config.listen.port, 8000);
  EXPECT_EQ(config.mode, ReplyMode::kEcho);  // not on the command line: the file's
  // A repeatable option given on the command line replaces the file's list.
  ASSERT_EQ(config.access.allow.size(), 1u);
  EXPECT_EQ(config.access.allow[0].to_string(), "192.0.2.0/24");
}

TEST(ConfigFile, AnUnknownKeyIsRefusedWithItsNameAndLine) {
  const TempFile file("# listening\n\nportt = 7000\n");
  const auto parsed = parse({"--config", file.path()});
  EXPECT_FALSE(parsed.result.options.has_value());
  EXPECT_EQ(parsed.result.exit_code, 2);
  EXPECT_EQ(parsed.err, "tcp_server: error: " + file.path() +
                            ":3: unknown option 'portt'. Run with --help for usage.\n");
}

TEST(ConfigFile, ABadValueIsRefusedWithTheKeyTheLineAndTheReason) {
  struct Case {
    std::string file_text;
    std::string expected;  // after "FILE:"
  };
  const std::vector<Case> cases{
      {"port = 70000\n", "1: port: Value 70000 not in range 0 to 65535"},
      {"\nmode = \"eco\"\n", "2: mode: eco not in {ack,echo}"},
      {"idle-timeout = \"soon\"\n", "1: idle-timeout: 'soon' is not a duration"},
      {"backlog = \"many\"\n", "1: backlog: Value many not in range"},
      {"allow = [\"10.0.0.0/33\"]\n", "1: allow: '10.0.0.0/33' has a bad prefix length"},
      {"reply = \"\\xZZ\"\n", "1: reply: \\x at offset 0 needs two hex digits"},
      {"port = [1, 2]\n", "1: port: At Most 1 required but received 2"},
  };
  for (const Case& test : cases) {
    const TempFile file(test.file_text);
    const auto parsed = parse({"--config", file.path()});
    EXPECT_FALSE(parsed.result.options.has_value()) << test.file_text;
    EXPECT_EQ(parsed.result.exit_code, 2);
    EXPECT_EQ(lines_in(parsed.err), 1u) << parsed.err;
    EXPECT_TRUE(parsed.err.starts_with("tcp_server: error: " + file.path() + ":" + test.expected))
        << parsed.err;
  }
}

TEST(ConfigFile, ABadValueOnTheCommandLineIsNotBlamedOnTheFile) {
  const TempFile file("port = 70000\n");
  const auto parsed = parse({"--config", file.path(), "-p", "70001"});
  EXPECT_EQ(parsed.result.exit_code, 2);
  EXPECT_TRUE(parsed.err.starts_with("tcp_server: error: --port: Value 70001")) << parsed.err;
}

TEST(ConfigFile, SectionsAndCommandOnlyOptionsAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"[server]\nport = 1\n", ":1: unknown section '[server]'"},
      {"print-config = true\n", ":1: print-config: not allowed in a configuration file"},
      {"config = \"/etc/other.toml\"\n", ":1: config: not allowed in a configuration file"},
      {"version = true\n", ":1: version: not allowed in a configuration file"},
      {"\x1b[2J = 1\n", ":1: unknown option '\\x1b[2J'"},
  };
  for (const auto& [text, expected] : cases) {
    const TempFile file(text);
    const auto parsed = parse({"--config", file.path()});
    EXPECT_EQ(parsed.result.exit_code, 2) << text;
    EXPECT_EQ(lines_in(parsed.err), 1u) << parsed.err;
    EXPECT_TRUE(parsed.err.starts_with("tcp_server: error: " + file.path() + expected))
        << parsed.err;
  }
}

TEST(ConfigFile, AMissingFileIsAnErrorNamingIt) {
  const auto parsed = parse({"--config", "/nonexistent/tcp_server.toml"});
  EXPECT_EQ(parsed.result.exit_code, 2);
  EXPECT_EQ(parsed.err,
            "tcp_server: error: --config /nonexistent/tcp_server.toml: cannot read the file. Run "
            "with --help for usage.\n");
}

TEST(PrintConfig, PrintsSetOptionsAndCommentedDefaultsThenExitsZero) {
  const auto parsed = parse({"--port", "7", "--mode", "echo", "-q", "--print-config"});
  EXPECT_FALSE(parsed.result.options.has_value());
  EXPECT_EQ(parsed.result.exit_code, 0);
  EXPECT_EQ(parsed.err, "");
  EXPECT_NE(parsed.out.find("\nport=7\n"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find("\nmode=\"echo\"\n"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find("\nquiet=true\n"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find("\n# backlog=128\n"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find("\n# nodelay=true\n"), std::string::npos) << parsed.out;
  // Options that only make sense on a command line are not written.
  for (const char* key : {"print-config=", "config=", "help=", "version="}) {
    EXPECT_EQ(parsed.out.find(std::string("\n") + key), std::string::npos) << key;
    EXPECT_EQ(parsed.out.find(std::string("\n# ") + key), std::string::npos) << key;
  }
}

TEST(PrintConfig, ReadBackWithConfigItGivesTheSameConfiguration) {
  const std::vector<std::string> args{"--host",
                                      "::1",
                                      "--port",
                                      "7001",
                                      "--mode",
                                      "echo",
                                      "--framing",
                                      "chunk",
                                      "--max-line",
                                      "2KiB",
                                      "--idle-timeout",
                                      "1.5s",
                                      "--allow",
                                      "10.0.0.0/8",
                                      "--allow",
                                      "::1",
                                      "--reply",
                                      "say \"hi\"\\n",
                                      "--no-nodelay",
                                      "-q",
                                      "--log-format",
                                      "json",
                                      "--encoding",
                                      "GBK",
                                      "--keepalive",
                                      "--keepalive-idle",
                                      "30",
                                      "--overflow",
                                      "defer",
                                      "--proxy-protocol",
                                      "v2",
                                      "--trusted-proxy",
                                      "127.0.0.1"};
  auto printing = args;
  printing.push_back("--print-config");
  const auto printed = parse(printing);
  ASSERT_EQ(printed.result.exit_code, 0) << printed.err;

  const TempFile file(printed.out);
  const auto reprinted = parse({"--config", file.path(), "--print-config"});
  ASSERT_EQ(reprinted.result.exit_code, 0) << reprinted.err;
  EXPECT_EQ(reprinted.out, printed.out);

  const auto direct = parse(args);
  const auto from_file = parse({"--config", file.path()});
  ASSERT_TRUE(direct.result.options.has_value()) << direct.err;
  ASSERT_TRUE(from_file.result.options.has_value()) << from_file.err;
  const ServerConfig& want = direct.result.options->server;
  const ServerConfig& got = from_file.result.options->server;
  EXPECT_EQ(got.listen.host, want.listen.host);
  EXPECT_EQ(got.listen.port, want.listen.port);
  EXPECT_EQ(got.mode, want.mode);
  EXPECT_EQ(got.framing, want.framing);
  EXPECT_EQ(got.max_line, want.max_line);
  EXPECT_EQ(got.idle_timeout, want.idle_timeout);
  EXPECT_EQ(got.idle_timeout, std::chrono::milliseconds(1500));
  ASSERT_EQ(got.access.allow.size(), want.access.allow.size());
  EXPECT_EQ(got.access.allow[1].to_string(), want.access.allow[1].to_string());
  EXPECT_EQ(got.reply, want.reply);
  EXPECT_EQ(got.no_delay, want.no_delay);
  EXPECT_EQ(got.log_payloads, want.log_payloads);
  EXPECT_EQ(got.log_format, want.log_format);
  EXPECT_EQ(got.encoding, want.encoding);
  EXPECT_EQ(got.keepalive.enabled, want.keepalive.enabled);
  EXPECT_EQ(got.keepalive.idle, want.keepalive.idle);
  EXPECT_EQ(got.overflow, want.overflow);
  EXPECT_EQ(got.proxy_protocol, want.proxy_protocol);
  ASSERT_EQ(got.trusted_proxies.size(), 1u);
}

// The options added with TLS, metrics and capture, and the operations ones, through the same
// round trip: printed, read back with --config, printed again.
TEST(PrintConfig, TlsMetricsAndCaptureOptionsReadBackTheSame) {
  const std::vector<std::vector<std::string>> cases{
      {"--tls-cert",
       "/etc/tcp_server/cert.pem",
       "--tls-key",
       "/etc/tcp_server/key.pem",
       "--tls-client-ca",
       "/etc/tcp_server/ca.pem",
       "--tls-verify-client",
       "optional",
       "--tls-min-version",
       "1.3",
       "--tls-handshake-timeout",
       "2.5s",
       "--metrics-listen",
       "127.0.0.1:9100",
       "--pcap",
       "/tmp/clients.pcap",
       "--pcap-max-size",
       "10MiB",
       "--log-hex",
       "--stats-interval",
       "30s",
       "--log-file",
       "/tmp/tcp_server.log"},
      {"--tls-self-signed", "--tls-cert-out", "/tmp/server.pem", "--metrics-listen",
       "127.0.0.1:0"}};
  for (const auto& args : cases) {
    auto printing = args;
    printing.push_back("--print-config");
    const auto printed = parse(printing);
    ASSERT_EQ(printed.result.exit_code, 0) << printed.err;
    const TempFile file(printed.out);
    const auto reprinted = parse({"--config", file.path(), "--print-config"});
    ASSERT_EQ(reprinted.result.exit_code, 0) << reprinted.err;
    EXPECT_EQ(reprinted.out, printed.out);

    const auto direct = parse(args);
    const auto from_file = parse({"--config", file.path()});
    ASSERT_TRUE(direct.result.options.has_value()) << direct.err;
    ASSERT_TRUE(from_file.result.options.has_value()) << from_file.err << printed.out;
    const AppOptions& want = *direct.result.options;
    const AppOptions& got = *from_file.result.options;
    EXPECT_EQ(got.server.tls.cert_path, want.server.tls.cert_path);
    EXPECT_EQ(got.server.tls.key_path, want.server.tls.key_path);
    EXPECT_EQ(got.server.tls.self_signed, want.server.tls.self_signed);
    EXPECT_EQ(got.server.tls.cert_out_path, want.server.tls.cert_out_path);
    EXPECT_EQ(got.server.tls.client_ca_path, want.server.tls.client_ca_path);
    EXPECT_EQ(got.server.tls.verify_client, want.server.tls.verify_client);
    EXPECT_EQ(got.server.tls.min_version, want.server.tls.min_version);
    EXPECT_EQ(got.server.tls.handshake_timeout, want.server.tls.handshake_timeout);
    ASSERT_EQ(got.metrics_listen.has_value(), want.metrics_listen.has_value());
    EXPECT_EQ(got.metrics_listen->to_string(), want.metrics_listen->to_string());
    EXPECT_EQ(got.server.pcap_file, want.server.pcap_file);
    EXPECT_EQ(got.server.pcap_max_size, want.server.pcap_max_size);
    EXPECT_EQ(got.server.log_hex, want.server.log_hex);
    EXPECT_EQ(got.stats_interval, want.stats_interval);
    EXPECT_EQ(got.log_file, want.log_file);
  }
  // Not the defaults: the values given were read.
  const auto first = parse(cases[0]);
  ASSERT_TRUE(first.result.options.has_value()) << first.err;
  EXPECT_EQ(first.result.options->server.tls.min_version, TlsVersion::k1_3);
  EXPECT_EQ(first.result.options->server.tls.handshake_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(first.result.options->server.pcap_max_size, 10u << 20);
  EXPECT_TRUE(first.result.options->server.log_hex);
}

// "remove its '#' to change it": a default shown as "0 (off)" in --help is written as a value.
TEST(PrintConfig, AnUncommentedDurationDefaultReadsBack) {
  const auto printed = parse({"--print-config"});
  ASSERT_EQ(printed.result.exit_code, 0) << printed.err;
  EXPECT_NE(printed.out.find("\n# idle-timeout=0\n"), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("\n# stats-interval=0\n"), std::string::npos) << printed.out;
  const TempFile file("idle-timeout=0\nstats-interval=0\n");
  const auto from_file = parse({"--config", file.path()});
  ASSERT_TRUE(from_file.result.options.has_value()) << from_file.err;
  EXPECT_EQ(from_file.result.options->server.idle_timeout, std::chrono::milliseconds(0));
  EXPECT_EQ(from_file.result.options->stats_interval, std::chrono::milliseconds(0));
}

TEST(PrintConfig, TheDefaultsReadBackAsTheDefaults) {
  const auto printed = parse({"--print-config"});
  ASSERT_EQ(printed.result.exit_code, 0) << printed.err;
  const TempFile file(printed.out);
  const auto from_file = parse({"--config", file.path()});
  ASSERT_TRUE(from_file.result.options.has_value()) << from_file.err;
  EXPECT_EQ(from_file.result.options->server.listen.port, 9090);
  const auto reprinted = parse({"--config", file.path(), "--print-config"});
  EXPECT_EQ(reprinted.out, printed.out);
}

TEST(Help, ListsEveryOptionUnderAGroupHeading) {
  const auto parsed = parse({"--help"});
  ASSERT_EQ(parsed.result.exit_code, 0);
  for (const char* heading :
       {"\nListening:\n", "\nReplies:\n", "\nLimits:\n", "\nLogging:\n", "\nDeployment:\n"}) {
    EXPECT_NE(parsed.out.find(heading), std::string::npos) << heading << parsed.out;
  }
  // Only --help and --version are left in CLI11's catch-all "Options:" group.
  const auto options = parsed.out.find("\nOptions:\n");
  ASSERT_NE(options, std::string::npos);
  const auto start = options + std::string_view("\nOptions:\n").size();
  const std::string ungrouped = parsed.out.substr(start, parsed.out.find("\n\n", start) - start);
  EXPECT_EQ(std::count(ungrouped.begin(), ungrouped.end(), '\n'), 1) << ungrouped;
  EXPECT_NE(ungrouped.find("--help"), std::string::npos) << ungrouped;
  EXPECT_NE(ungrouped.find("--version"), std::string::npos) << ungrouped;
}

TEST(LineOfKey, FindsTheFirstLineSettingTheKey) {
  const std::string text = "# port = 1\n\nbacklog=3\n  port = 2\n\"quoted\" = 4\nflag\nport=5\n";
  EXPECT_EQ(line_of_key(text, "port"), 4u);
  EXPECT_EQ(line_of_key(text, "backlog"), 3u);
  EXPECT_EQ(line_of_key(text, "quoted"), 5u);
  EXPECT_EQ(line_of_key(text, "flag"), 6u);
  EXPECT_EQ(line_of_key(text, "host"), std::nullopt);
  EXPECT_EQ(line_of_key("", "port"), std::nullopt);
  EXPECT_EQ(line_of_key("portx = 1\r\nport = 2\r\n", "port"), 2u);
}

TEST(GivenOnCommandLine, RecognisesLongShortAndAttachedForms) {
  CLI::App app;
  int port = 0;
  bool quiet = false;
  bool nodelay = true;
  const CLI::Option* port_option = app.add_option("--port,-p", port);
  app.add_flag("--quiet,-q", quiet);
  const CLI::Option* nodelay_option = app.add_flag("--nodelay,!--no-nodelay", nodelay);
  const auto given = [](const CLI::Option& option, std::vector<const char*> arguments) {
    return given_on_command_line(option, arguments);
  };
  EXPECT_TRUE(given(*port_option, {"--port", "1"}));
  EXPECT_TRUE(given(*port_option, {"--port=1"}));
  EXPECT_TRUE(given(*port_option, {"-p", "1"}));
  EXPECT_TRUE(given(*port_option, {"-p1"}));
  EXPECT_TRUE(given(*port_option, {"-qp", "1"}));
  EXPECT_FALSE(given(*port_option, {"--portable", "x"}));
  EXPECT_FALSE(given(*port_option, {"--quiet", "port"}));
  EXPECT_TRUE(given(*nodelay_option, {"--no-nodelay"}));
  EXPECT_FALSE(given(*nodelay_option, {"--port", "1"}));
}

}  // namespace
}  // namespace tcp_server
