#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tcp_server {

class RuleSet;

// What the "Testing" options ask of the server: a server that misbehaves on purpose, so that
// a client's author can see how the client copes. All off by default; plain data.
struct TestingSettings {
  std::chrono::milliseconds delay{0};           // --delay: before each reply
  std::chrono::milliseconds jitter{0};          // --jitter: plus a uniform random 0..jitter
  std::uint64_t throttle_bytes_per_second = 0;  // --throttle; 0: as fast as the peer reads
  std::uint64_t close_after = 0;                // --close-after: FIN after this many replies
  std::uint64_t reset_after = 0;                // --reset-after: RST after this many replies
  std::chrono::milliseconds max_lifetime{0};    // --max-lifetime: closed this long after opening
  double drop_rate = 0;                         // --drop-rate: share of messages not answered
  double reset_rate = 0;                        // --reset-rate: share of connections reset at once
  std::optional<std::uint64_t> seed{};          // --seed; random when empty
  std::string banner{};  // --banner, encoded bytes; sent when a client is admitted
  // --reply-file: the reply is sent exactly as given, even in line framing (no newline added).
  bool reply_verbatim = false;
  // --rules, loaded at start: the first rule matching a message answers it (ack mode); shared,
  // read-only, by every connection.
  std::shared_ptr<const RuleSet> rules{};

  // True when some choice is random (the seed then matters, and is logged).
  [[nodiscard]] bool uses_randomness() const noexcept {
    return jitter.count() > 0 || drop_rate > 0 || reset_rate > 0;
  }
  // True when the responder has anything to do beyond the plain reply.
  [[nodiscard]] bool shapes_responses() const noexcept {
    return delay.count() > 0 || jitter.count() > 0 || close_after > 0 || reset_after > 0 ||
           drop_rate > 0 || reset_rate > 0 || !banner.empty() || rules != nullptr;
  }
  // Problems, one sentence each naming the option; empty when usable.
  [[nodiscard]] std::vector<std::string> validate() const;
};

}  // namespace tcp_server
