#include "tcp_server/live_responder.hpp"

#include <utility>

namespace tcp_server {

// Each replacement builds the next snapshot under the lock, so that two never lose one another:
// it copies a reply and a few settings, once per SIGHUP, and the accept loop waits at most that
// long. The state changes only once the snapshot is built (an allocation that fails changes
// nothing). The old snapshot is released after the lock, or by the last connection still answering
// with it.

LiveResponder::LiveResponder(const ServerConfig& config, std::uint64_t seed)
    : mode_(config.mode),
      framing_(config.framing),
      seed_(seed),
      reply_(config.reply),
      testing_(config.testing),
      responder_(std::make_shared<const Responder>(mode_, framing_, reply_, testing_, seed_)) {}

void LiveResponder::replace_reply(std::string reply) {
  std::shared_ptr<const Responder> old;  // released after the lock
  std::lock_guard lock(mutex_);
  old = std::make_shared<const Responder>(mode_, framing_, reply, testing_, seed_);
  reply_ = std::move(reply);
  responder_.swap(old);
}

void LiveResponder::replace_rules(std::shared_ptr<const RuleSet> rules) {
  std::shared_ptr<const Responder> old;  // released after the lock
  std::lock_guard lock(mutex_);
  TestingSettings testing = testing_;
  testing.rules = std::move(rules);
  old = std::make_shared<const Responder>(mode_, framing_, reply_, testing, seed_);
  testing_ = std::move(testing);
  responder_.swap(old);
}

}  // namespace tcp_server
