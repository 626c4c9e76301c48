// The reload seam (Reloader, format_reload_outcome), the access rules SIGHUP re-reads
// (read_cidr_file, load_access_rules) and the snapshot new clients are checked against
// (LiveAccessRules).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "tcp_server/access_rule_files.hpp"
#include "tcp_server/live_access_rules.hpp"
#include "tcp_server/reloadable.hpp"

namespace tcp_server {
namespace {

Endpoint ip(const char* text) {
  return *Endpoint::from_ip(text, 1234);
}

// A directory of list files, removed afterwards.
class ListFiles {
 public:
  ListFiles() {
    std::string pattern = std::filesystem::temp_directory_path() / "tcp_server_reload_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = pattern;
  }
  ~ListFiles() { std::filesystem::remove_all(dir_); }
  ListFiles(const ListFiles&) = delete;
  ListFiles& operator=(const ListFiles&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }
  [[nodiscard]] std::string path(const std::string& name) const { return dir_ / name; }

 private:
  std::filesystem::path dir_;
};

std::string error_of(const AccessRuleSources& sources) {
  try {
    (void)load_access_rules(sources);
  } catch (const AccessRuleFileError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(Reloader, RunsEveryPartInOrderAndAFailureOrThrowDoesNotStopTheRest) {
  Reloader reloader;
  EXPECT_TRUE(reloader.empty());
  std::string order;
  reloader.add({"first", [&] {
                  order += "1";
                  return ReloadResult::failed("bad.txt:3: nope; the old one stays");
                }});
  reloader.add({"second", [&]() -> ReloadResult {
                  order += "2";
                  throw std::runtime_error("cannot read x: Permission denied");
                }});
  reloader.add({"third", [&] {
                  order += "3";
                  return ReloadResult::reloaded("3 things");
                }});
  EXPECT_FALSE(reloader.empty());
  const auto outcomes = reloader.reload_all();
  EXPECT_EQ(order, "123");
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(format_reload_outcome(outcomes[0]),
            "reload failed: first: bad.txt:3: nope; the old one stays");
  EXPECT_EQ(format_reload_outcome(outcomes[1]),
            "reload failed: second: cannot read x: Permission denied");
  EXPECT_EQ(format_reload_outcome(outcomes[2]), "reload: third: 3 things");
  EXPECT_TRUE(outcomes[2].result.ok);
}

TEST(Reloader, ControlBytesInADetailAreEscaped) {
  const std::string line = format_reload_outcome(
      {"access rules", ReloadResult::failed("deny.txt:1: '\x1b[31m\nx' is not an address")});
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_NE(line.find("\\x1b[31m\\nx"), std::string::npos) << line;
}

TEST(AccessRuleFiles, CommandLineNetworksComeFirstThenEachFileInOrder) {
  ListFiles files;
  AccessRuleSources sources;
  sources.fixed.allow.push_back(*Cidr::parse("10.0.0.0/8"));
  sources.fixed.deny.push_back(*Cidr::parse("10.9.0.0/16"));
  sources.allow_files = {files.write("allow", "# office\n192.0.2.0/24\n::1 # me\n")};
  sources.deny_files = {files.write("deny1", "203.0.113.7\n"), files.write("deny2", "\n\n")};
  const AccessRules rules = load_access_rules(sources);
  ASSERT_EQ(rules.allow.size(), 3u);
  EXPECT_EQ(rules.allow[0].to_string(), "10.0.0.0/8");
  EXPECT_EQ(rules.allow[2].to_string(), "::1/128");
  ASSERT_EQ(rules.deny.size(), 2u);
  EXPECT_EQ(rules.deny[1].to_string(), "203.0.113.7/32");
  EXPECT_EQ(describe_access_rules(rules), "3 allow networks and 2 deny networks");
  EXPECT_EQ(describe_access_rules(AccessRules{{}, {*Cidr::parse("::1")}}),
            "0 allow networks and 1 deny network");
}

TEST(AccessRuleFiles, ABadEntryIsNamedAsFileColonLine) {
  ListFiles files;
  AccessRuleSources sources;
  sources.deny_files = {files.write("good", "10.0.0.0/8\n"),
                        files.write("bad", "# list\n10.0.0.0/8\n10.1.0.0/8\n")};
  EXPECT_EQ(error_of(sources),
            files.path("bad") + ":3: '10.1.0.0/8' has bits set beyond its /8 prefix");
}

TEST(AccessRuleFiles, AMissingFileOrADirectoryIsNamedWithTheSystemsReason) {
  ListFiles files;
  AccessRuleSources sources;
  sources.allow_files = {files.path("missing")};
  EXPECT_EQ(error_of(sources),
            "cannot read " + files.path("missing") + ": No such file or directory");
  sources.allow_files = {std::filesystem::temp_directory_path()};
  EXPECT_NE(error_of(sources).find("Is a directory"), std::string::npos) << error_of(sources);
}

TEST(AccessRuleFiles, AFileThatNeverEndsIsRefusedInsteadOfReadForever) {
  AccessRuleSources sources;
  sources.deny_files = {"/dev/zero"};
  EXPECT_EQ(error_of(sources), "/dev/zero is larger than 64 MiB");
}

TEST(LiveAccessRules, AReplacementAppliesToNewChecksWhileAHeldSnapshotStaysAsItWas) {
  LiveAccessRules live(AccessRules{});
  const auto before = live.current();
  EXPECT_FALSE(before->refusal(ip("127.0.0.2")).has_value());
  live.replace(AccessRules{{}, {*Cidr::parse("127.0.0.2")}});
  // A client admitted before the replacement was checked against `before`, which is unchanged.
  EXPECT_FALSE(before->refusal(ip("127.0.0.2")).has_value());
  EXPECT_EQ(live.current()->refusal(ip("127.0.0.2")), "denied by 127.0.0.2/32");
  EXPECT_FALSE(live.current()->refusal(ip("127.0.0.1")).has_value());
}

}  // namespace
}  // namespace tcp_server
