#pragma once

#include <memory>
#include <mutex>
#include <utility>

#include "tcp_server/access_rules.hpp"

namespace tcp_server {

// The access rules new clients are checked against, replaceable while the server runs (SIGHUP
// re-reads --allow-file and --deny-file). The rules are an immutable snapshot: a client is
// checked once, when it is admitted, against the snapshot current then, so a replacement
// applies to clients admitted after it, and clients already connected are never re-checked or
// dropped (as with nginx's allow/deny across a reload). The lock covers only the copy of a
// pointer, once per client: nothing per message. Thread safe.
class LiveAccessRules {
 public:
  explicit LiveAccessRules(AccessRules rules)
      : rules_(std::make_shared<const AccessRules>(std::move(rules))) {}

  [[nodiscard]] std::shared_ptr<const AccessRules> current() const {
    std::lock_guard lock(mutex_);
    return rules_;
  }

  void replace(AccessRules rules) {
    auto next = std::make_shared<const AccessRules>(std::move(rules));
    std::lock_guard lock(mutex_);
    rules_.swap(next);
    // The old snapshot is released outside the lock (next, at scope end), or by the last
    // client still checking against it.
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const AccessRules> rules_;
};

}  // namespace tcp_server
