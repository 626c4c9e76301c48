#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "registration.hpp"
#include "tcp_server/byte_stream.hpp"
#include "tcp_server/config.hpp"
#include "tcp_server/endpoint.hpp"
#include "tcp_server/live_access_rules.hpp"
#include "tcp_server/stats.hpp"

namespace tcp_server {

class ServerLog;

// Why a client is turned away: the reason counted, the detail logged.
struct Refusal {
  RejectReason reason;
  std::string detail;
};

// Who may be served, and the one way a client is turned away. A client is checked at the points
// where what is checked becomes known: the open count at accept, PROXY trust on the peer, the
// access rules on the real client (after its PROXY header), its --max-per-ip group (counted by
// the registry: see Registration::admit()). The checks are pure. Thread safe.
class Admission {
 public:
  // config, stats and log outlive this. The access rules start as config.access.
  Admission(const ServerConfig& config, ServerStats& stats, ServerLog& log)
      : config_(config), stats_(stats), log_(log), access_(config.access) {}

  [[nodiscard]] static std::optional<Refusal> over_limit(std::size_t open,
                                                         std::size_t max_connections);
  // With --proxy-protocol, only a --trusted-proxy may connect.
  [[nodiscard]] std::optional<Refusal> untrusted_proxy(const Endpoint& peer) const;
  // Against the access rules current when called: once per client, when it is admitted.
  [[nodiscard]] std::optional<Refusal> denied(const Endpoint& client) const;
  // For clients admitted from now on; connected ones are not re-checked.
  void replace_access_rules(AccessRules rules) { access_.replace(std::move(rules)); }
  // For a client whose --max-per-ip group is full.
  [[nodiscard]] Refusal per_ip_refusal() const;

  // Sends --reject-message (best effort, never blocking: the accept loop must not wait on a
  // refused client), counts and logs the refusal, then leaves the registry and closes the stream,
  // in that order: a client that sees the close sees itself counted, and the drain never shuts
  // down a reused fd. registration may be empty (refused before it was registered).
  void refuse(ByteStream& stream, Registration registration, std::string_view client,
              RejectReason reason, std::string_view detail) const noexcept;
  void refuse(ByteStream& stream, Registration registration, std::string_view client,
              const Refusal& refusal) const noexcept {
    refuse(stream, std::move(registration), client, refusal.reason, refusal.detail);
  }

 private:
  const ServerConfig& config_;
  ServerStats& stats_;
  ServerLog& log_;
  LiveAccessRules access_;
};

}  // namespace tcp_server
