#pragma once

#include <memory>
#include <string>

#include "tcp_server/config.hpp"
#include "tcp_server/connection_limit.hpp"
#include "tcp_server/endpoint.hpp"
#include "tcp_server/reloadable.hpp"
#include "tcp_server/stats.hpp"
#include "tcp_server/unique_fd.hpp"

namespace spdlog {
class logger;
}

namespace tcp_server {

class RuleSet;

// A thread-per-connection TCP server.
//
//   Server server(config, logger);   // throws std::invalid_argument on a bad config
//   server.open();                   // binds (or adopts), logs "listening on ..."; may throw
//   std::jthread t([&] { server.run(); });
//   ... server.stop();               // from any thread, e.g. a signal watcher
//
// run() accepts until stop(), then drains: idle clients are closed at once, a client in the
// middle of a message gets up to config.drain_timeout to finish it, then every connection is
// shut down, every thread joined, and a summary logged. The destructor stops and waits too.
class Server {
 public:
  Server(ServerConfig config, std::shared_ptr<spdlog::logger> logger);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens (config.listen), or serves inherited_listener when one is given (systemd
  // socket activation). Throws std::system_error with the address in what(), e.g.
  // "cannot listen on [::]:9090: Address already in use".
  void open(UniqueFd inherited_listener = {});

  // The bound address (with the kernel's port when config asked for port 0). After open().
  [[nodiscard]] Endpoint local_endpoint() const;

  // Serves until stop(), then drains; returns when every connection thread has been joined.
  // Call once, after open(), from one thread.
  void run();

  // Starts the shutdown. Thread safe, idempotent, returns at once.
  void stop() noexcept;

  // Replaces config.access (SIGHUP re-reads --allow-file/--deny-file): clients admitted from now
  // on are checked against rules; connected clients are left alone, never re-checked or
  // dropped. Thread safe; the check costs nothing per message.
  void replace_access_rules(AccessRules rules);

  // SIGHUP: re-reads --tls-cert/--tls-key (and --tls-client-ca) into a new TLS context that
  // handshakes from now on use; connections already open keep the one they started with. When
  // anything fails (unreadable, not PEM, key and certificate do not match) the old context stays
  // and the result says why. With --tls-self-signed there is nothing to re-read: the generated
  // certificate stays. Thread safe; costs one mutex per accepted client, nothing per message.
  ReloadResult reload_tls();
  // Replace the reply (SIGHUP re-reads --reply-file: its bytes, sent as they are) or the rules
  // (--rules) for connections accepted from now on; open connections keep answering with what
  // they started with. The seed stays. Thread safe; nothing per message.
  void replace_reply(std::string reply);
  void replace_rules(std::shared_ptr<const RuleSet> rules);

  // Counters plus the number of live connections. Thread safe.
  [[nodiscard]] StatsSnapshot stats() const;

  // The most clients served at once, and what set it: "--max-connections", or the system limit
  // that bounds the derived default (ConnectionCeiling::bounded_by). After open().
  [[nodiscard]] ConnectionCeiling connection_limit() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tcp_server
