#include "cli.hpp"
#include "parse_command_line.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace tcp_server {
namespace {

using testing::parse;
using testing::Parsed;

TEST(CommandLine, DefaultsMatchTheDocumentedOnes) {
  const auto parsed = parse({});
  ASSERT_TRUE(parsed.result.options.has_value()) << parsed.err;
  const ServerConfig& config = parsed.result.options->server;
  EXPECT_EQ(config.listen.host, "");
  EXPECT_EQ(config.listen.port, 9090);
  EXPECT_EQ(config.listen.backlog, 128);
  EXPECT_EQ(config.mode, ReplyMode::kAck);
  EXPECT_EQ(config.reply, "ok");
  EXPECT_EQ(config.framing, Framing::kLine);
  EXPECT_EQ(config.max_line, 64u * 1024u);
  EXPECT_TRUE(config.log_payloads);
  EXPECT_TRUE(config.no_delay);
  EXPECT_EQ(config.encoding, TextEncoding());
  EXPECT_EQ(parsed.result.options->log_level, spdlog::level::info);
}

TEST(CommandLine, OptionsLandInTheConfig) {
  const auto parsed = parse({"--host",
                             "::1",
                             "--port",
                             "0",
                             "--backlog",
                             "7",
                             "--mode",
                             "echo",
                             "--framing",
                             "chunk",
                             "--max-line",
                             "2KiB",
                             "--quiet",
                             "--encoding",
                             "GBK",
                             "--idle-timeout",
                             "1.5s",
                             "--send-timeout",
                             "250ms",
                             "--drain-timeout",
                             "2m",
                             "--no-nodelay",
                             "--thread-stack",
                             "128KiB",
                             "--max-connections",
                             "10",
                             "--max-per-ip",
                             "2",
                             "--overflow",
                             "defer",
                             "--keepalive",
                             "--keepalive-idle",
                             "30",
                             "--log-level",
                             "warn",
                             "--stats-interval",
                             "10s"});
  ASSERT_TRUE(parsed.result.options.has_value()) << parsed.err;
  const AppOptions& options = *parsed.result.options;
  const ServerConfig& config = options.server;
  EXPECT_EQ(config.listen.host, "::1");
  EXPECT_EQ(config.listen.port, 0);
  EXPECT_EQ(config.listen.backlog, 7);
  EXPECT_EQ(config.mode, ReplyMode::kEcho);
  EXPECT_EQ(config.framing, Framing::kChunk);
  EXPECT_EQ(config.max_line, 2048u);
  EXPECT_FALSE(config.log_payloads);
  EXPECT_EQ(config.encoding, TextEncoding::named("gbk"));
  EXPECT_EQ(config.idle_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(config.send_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(config.drain_timeout, std::chrono::minutes(2));
  EXPECT_FALSE(config.no_delay);
  EXPECT_EQ(config.thread_stack, 128u * 1024u);
  EXPECT_EQ(config.max_connections, 10u);
  EXPECT_EQ(config.max_per_ip, 2u);
  EXPECT_EQ(config.overflow, OverflowPolicy::kDefer);
  EXPECT_TRUE(config.keepalive.enabled);
  EXPECT_EQ(config.keepalive.idle, std::chrono::seconds(30));
  EXPECT_EQ(options.log_level, spdlog::level::warn);
  EXPECT_EQ(options.stats_interval, std::chrono::seconds(10));
}

TEST(CommandLine, ReplyEscapesAreDecoded) {
  const auto parsed = parse({"--reply", "ok\\t\\xe4\\xbd\\xa0\\r\\n"});
  ASSERT_TRUE(parsed.result.options.has_value()) << parsed.err;
  EXPECT_EQ(parsed.result.options->server.reply, "ok\t\xe4\xbd\xa0\r\n");
}

TEST(CommandLine, ReplyAndRejectMessageAreEncodedToTheClientsEncoding) {
  // Whichever comes first on the command line: the text is encoded once the encoding is known.
  for (const auto& args :
       {std::vector<std::string>{"--encoding", "gbk", "--reply", "ok,问题正在处理中...",
                                 "--reject-message", "服务器忙\\r\\n"},
        std::vector<std::string>{"--reply", "ok,问题正在处理中...", "--reject-message",
                                 "服务器忙\\r\\n", "--encoding", "GBK"}}) {
    const auto parsed = parse(args);
    ASSERT_TRUE(parsed.result.options.has_value()) << parsed.err;
    const ServerConfig& config = parsed.result.options->server;
    EXPECT_EQ(config.reply, "ok,\xce\xca\xcc\xe2\xd5\xfd\xd4\xda\xb4\xa6\xc0\xed\xd6\xd0...");
    EXPECT_EQ(config.reject_message, "\xb7\xfe\xce\xf1\xc6\xf7\xc3\xa6\r\n");
  }
}

TEST(CommandLine, EscapesPlaceRawBytesAfterEncoding) {
  const auto parsed = parse({"--encoding", "gbk", "--reply", "好\\xe5\\xa5\\xbd"});
  ASSERT_TRUE(parsed.result.options.has_value()) << parsed.err;
  EXPECT_EQ(parsed.result.options->server.reply, "\xba\xc3\xe5\xa5\xbd");
}

TEST(CommandLine, EncodingErrorsSayWhatAndWhere) {
  const auto unencodable = parse({"--encoding", "iso-8859-1", "--reply", "你好"});
  EXPECT_EQ(unencodable.result.exit_code, 2);
  EXPECT_EQ(unencodable.err,
            "tcp_server: error: --reply: cannot encode '你' (U+4F60), character 1, in ISO-8859-1. "
            "Run with --help for usage.\n");
  const auto rejected = parse({"--encoding", "big5", "--reject-message", "服务器忙"});
  EXPECT_EQ(rejected.result.exit_code, 2);
  EXPECT_NE(
      rejected.err.find("--reject-message: cannot encode '务' (U+52A1), character 2, in BIG5"),
      std::string::npos)
      << rejected.err;
  const auto unknown = parse({"--encoding", "klingon"});
  EXPECT_EQ(unknown.result.exit_code, 2);
  EXPECT_EQ(unknown.err,
            "tcp_server: error: --encoding: unknown encoding 'klingon' (iconv -l lists the ones "
            "this system knows). Run with --help for usage.\n");
}

TEST(CommandLine, ErrorsAreOneLineOnStderrWithExitCodeTwo) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--port", "65536"},
                                               {"--port", "-1"},
                                               {"--framing", "xml"},
                                               {"--reply", "\\x4"},
                                               {"--reply", ""},
                                               {"--encoding", "utf-16"},
                                               {"--thread-stack", "1KiB"},
                                               {"extra"},
                                               {"--send-timeout", "-3s"}}) {
    const auto parsed = parse(args);
    EXPECT_FALSE(parsed.result.options.has_value()) << args[0];
    EXPECT_EQ(parsed.result.exit_code, 2) << args[0];
    EXPECT_EQ(std::count(parsed.err.begin(), parsed.err.end(), '\n'), 1) << parsed.err;
    EXPECT_EQ(parsed.err.rfind("tcp_server: error: ", 0), 0u) << parsed.err;
    EXPECT_EQ(parsed.out, "");
  }
}

TEST(CommandLine, HelpGoesToStdoutWithExitCodeZero) {
  const auto parsed = parse({"--help"});
  EXPECT_FALSE(parsed.result.options.has_value());
  EXPECT_EQ(parsed.result.exit_code, 0);
  EXPECT_NE(parsed.out.find("--drain-timeout"), std::string::npos);
  EXPECT_EQ(parsed.err, "");
}

TEST(CommandLine, AllowAndDenyAreRepeatableAndReadFromFiles) {
  char path[] = "/tmp/tcp_server_cidr_test_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string list = "# blocked\n203.0.113.0/24\n2001:db8::/32 # docs\n";
  ASSERT_EQ(::write(fd, list.data(), list.size()), static_cast<ssize_t>(list.size()));
  ::close(fd);
  const auto parsed = parse(
      {"--allow", "10.0.0.0/8", "--allow", "::1", "--deny", "10.9.0.0/16", "--deny-file", path});
  ::unlink(path);
  ASSERT_TRUE(parsed.result.options.has_value()) << parsed.err;
  const AccessRules& access = parsed.result.options->server.access;
  ASSERT_EQ(access.allow.size(), 2u);
  EXPECT_EQ(access.allow[1].to_string(), "::1/128");
  ASSERT_EQ(access.deny.size(), 3u);
  EXPECT_EQ(access.deny[2].to_string(), "2001:db8::/32");
}

TEST(CommandLine, BadNetworksAndUnreadableListsAreOneLineErrors) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--allow", "10.0.0.0/33"},
                                               {"--deny", "example.com"},
                                               {"--allow-file", "/nonexistent/list"}}) {
    const auto parsed = parse(args);
    EXPECT_FALSE(parsed.result.options.has_value()) << args[1];
    EXPECT_EQ(parsed.result.exit_code, 2);
    EXPECT_EQ(std::count(parsed.err.begin(), parsed.err.end(), '\n'), 1) << parsed.err;
    EXPECT_NE(parsed.err.find(args[0]), std::string::npos) << parsed.err;
  }
}

TEST(CommandLine, AMappedDenyRuleIsTakenAsIpv4AndAShortOneRefusedInOneLine) {
  const auto mapped = parse({"--deny", "::ffff:127.0.0.0/104"});
  ASSERT_TRUE(mapped.result.options.has_value()) << mapped.err;
  ASSERT_EQ(mapped.result.options->server.access.deny.size(), 1u);
  EXPECT_EQ(mapped.result.options->server.access.deny[0].to_string(), "127.0.0.0/8");

  const auto refused = parse({"--deny", "::ffff:0.0.0.0/95"});
  EXPECT_FALSE(refused.result.options.has_value());
  EXPECT_EQ(refused.result.exit_code, 2);
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  EXPECT_NE(refused.err.find("--deny"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("IPv4-mapped"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace tcp_server
