// --log-hex, --pcap and --pcap-max-size on the command line.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "parse_command_line.hpp"

namespace tcp_server {
namespace {

using testing::parse;
using testing::Parsed;

TEST(CaptureOptions, OffByDefault) {
  const auto parsed = parse({});
  ASSERT_TRUE(parsed.result.options);
  EXPECT_FALSE(parsed.result.options->server.log_hex);
  EXPECT_EQ(parsed.result.options->server.pcap_file, "");
  EXPECT_EQ(parsed.result.options->server.pcap_max_size, 0u);
}

TEST(CaptureOptions, LandInTheConfig) {
  const auto parsed = parse({"--log-hex", "--pcap", "/tmp/x.pcap", "--pcap-max-size", "10MiB"});
  ASSERT_TRUE(parsed.result.options) << parsed.err;
  EXPECT_TRUE(parsed.result.options->server.log_hex);
  EXPECT_EQ(parsed.result.options->server.pcap_file, "/tmp/x.pcap");
  EXPECT_EQ(parsed.result.options->server.pcap_max_size, 10u << 20);
}

TEST(CaptureOptions, MistakesAreOneLineNamingTheOption) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--pcap-max-size", "10MiB"},
                                               {"--pcap", "x.pcap", "--pcap-max-size", "lots"},
                                               {"--pcap", "x.pcap", "--pcap-max-size", "100"},
                                               {"--pcap"},
                                               {"--log-hex=maybe"}}) {
    const auto parsed = parse(args);
    EXPECT_FALSE(parsed.result.options.has_value()) << args[0];
    EXPECT_EQ(parsed.result.exit_code, 2) << args[0];
    EXPECT_EQ(std::count(parsed.err.begin(), parsed.err.end(), '\n'), 1) << parsed.err;
    EXPECT_NE(parsed.err.find(args[0] == "--pcap" && args.size() > 2 ? "--pcap-max-size"
                                                                     : args[0].substr(0, 9)),
              std::string::npos)
        << parsed.err;
  }
}

TEST(CaptureOptions, InTheTestingHelpGroup) {
  const auto parsed = parse({"--help"});
  const std::size_t group = parsed.out.find("Testing:");
  ASSERT_NE(group, std::string::npos) << parsed.out;
  for (const char* option : {"--log-hex", "--pcap FILE", "--pcap-max-size"}) {
    EXPECT_GT(parsed.out.find(option), group) << option;
  }
}

}  // namespace
}  // namespace tcp_server
