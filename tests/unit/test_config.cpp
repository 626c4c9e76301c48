#include "tcp_server/config.hpp"

#include <gtest/gtest.h>

namespace tcp_server {
namespace {

// A default config with one change applied, so each case names only what it breaks.
template <typename Change>
ServerConfig config_with(Change change) {
  ServerConfig config;
  change(config);
  return config;
}

bool mentions(const std::vector<std::string>& problems, const std::string& option) {
  for (const auto& problem : problems) {
    if (problem.find(option) != std::string::npos) return true;
  }
  return false;
}

TEST(ServerConfigValidate, DefaultsAreValid) {
  EXPECT_TRUE(ServerConfig{}.validate().empty());
}

TEST(ServerConfigValidate, EachBadValueIsNamed) {
  EXPECT_TRUE(
      mentions(config_with([](ServerConfig& c) { c.listen.backlog = 0; }).validate(), "--backlog"));
  EXPECT_TRUE(
      mentions(config_with([](ServerConfig& c) { c.max_line = 0; }).validate(), "--max-line"));
  EXPECT_TRUE(mentions(config_with([](ServerConfig& c) { c.reply = ""; }).validate(), "--reply"));
  EXPECT_TRUE(mentions(config_with([](ServerConfig& c) { c.thread_stack = 1024; }).validate(),
                       "--thread-stack"));
  EXPECT_TRUE(mentions(config_with([](ServerConfig& c) {
                         c.idle_timeout = std::chrono::milliseconds(-1);
                       }).validate(),
                       "--idle-timeout"));
  EXPECT_TRUE(mentions(config_with([](ServerConfig& c) {
                         c.keepalive.enabled = true;
                         c.keepalive.probes = 0;
                       }).validate(),
                       "--keepalive"));
}

TEST(ServerConfigValidate, EmptyReplyIsFineInEchoMode) {
  EXPECT_TRUE(config_with([](ServerConfig& c) {
                c.mode = ReplyMode::kEcho;
                c.reply = "";
              })
                  .validate()
                  .empty());
}

}  // namespace
}  // namespace tcp_server
