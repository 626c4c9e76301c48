#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "tcp_server/config.hpp"
#include "tcp_server/responder.hpp"
#include "tcp_server/rules.hpp"
#include "tcp_server/testing_settings.hpp"

namespace tcp_server {

// The responder new connections answer with, replaceable while the server runs (SIGHUP re-reads
// --reply-file and --rules). Each responder is an immutable snapshot: a connection takes the one
// current when it is created and keeps it for its whole life, so a replacement applies to
// connections accepted after it, and one already open goes on answering as it started (its
// --close-after count, its rules, its reply). The lock covers the copy of a pointer, once per
// connection: nothing per message. Every snapshot has the same seed, so the same --seed still
// makes the same random choices for the same connection numbers. Thread safe.
class LiveResponder {
 public:
  LiveResponder(const ServerConfig& config, std::uint64_t seed);

  [[nodiscard]] std::shared_ptr<const Responder> current() const {
    std::lock_guard lock(mutex_);
    return responder_;
  }
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }

  // The reply (--reply-file's bytes) for connections from now on; the rest stays.
  void replace_reply(std::string reply);
  // The rules for connections from now on; the rest stays.
  void replace_rules(std::shared_ptr<const RuleSet> rules);

 private:
  const ReplyMode mode_;
  const Framing framing_;
  const std::uint64_t seed_;
  mutable std::mutex mutex_;
  // What the current snapshot was built from (a Responder keeps the reply framed, not as given).
  std::string reply_;
  TestingSettings testing_;
  std::shared_ptr<const Responder> responder_;
};

}  // namespace tcp_server
