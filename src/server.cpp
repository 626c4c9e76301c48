#include "tcp_server/server.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>

#include "admission.hpp"
#include "capture_stream.hpp"
#include "connection.hpp"
#include "connection_registry.hpp"
#include "connection_threads.hpp"
#include "lifetime_watch.hpp"
#include "pcap_writer.hpp"
#include "server_log.hpp"
#include "socket_stream.hpp"
#include "tcp_server/connection_limit.hpp"
#include "tcp_server/listener.hpp"
#include "tcp_server/socket.hpp"
#include "tcp_server/tls_context.hpp"
#include "throttled_stream.hpp"
#include "tls_stream.hpp"
#include "waker.hpp"

namespace tcp_server {
namespace {

// Threads kept parked for reuse, and for how long. Enough to absorb a churn of short
// connections without pthread_create each time, few enough to cost little when idle.
constexpr std::size_t kMaxParkedThreads = 256;
constexpr auto kParkTime = std::chrono::seconds(10);
// Back-off when accept() runs out of fds or memory: retrying at once would spin a core.
constexpr auto kFirstBackOff = std::chrono::milliseconds(10);
constexpr auto kMaxBackOff = std::chrono::milliseconds(1000);
// After the drain deadline, SHUT_RD lets replies being written finish; this long after that,
// SHUT_RDWR cuts off a peer that is not reading them.
constexpr auto kForcedCloseGrace = std::chrono::seconds(1);

ServerConfig validated(ServerConfig config) {
  const auto problems = config.validate();
  if (problems.empty()) return config;
  std::string message;
  for (const auto& problem : problems) message += (message.empty() ? "" : "; ") + problem;
  throw std::invalid_argument(message);
}

// The TLS context when config asks for TLS, else null; its warnings (an expired certificate)
// are logged. Throws what TlsContext::create throws.
std::shared_ptr<const TlsContext> make_tls_context(const ServerConfig& config, ServerLog& log) {
  if (!config.tls.enabled()) return nullptr;
  std::vector<std::string> warnings;
  auto context = std::make_shared<const TlsContext>(
      TlsContext::create(config.tls, config.listen.host, warnings));
  for (const std::string& warning : warnings) log.note(spdlog::level::warn, "tls", warning);
  return context;
}

// --seed, or one drawn now (and logged, so that a run can be repeated).
std::uint64_t seed_in_use(const TestingSettings& testing) {
  if (testing.seed) return *testing.seed;
  std::random_device device;
  return (std::uint64_t{device()} << 32) | device();
}

}  // namespace

struct Server::Impl {
  Impl(ServerConfig server_config, std::shared_ptr<spdlog::logger> logger)
      : config(validated(std::move(server_config))),
        log(std::move(logger), config.log_format, config.log_hex),
        tls(make_tls_context(config, log)),
        tls_enabled(tls != nullptr),
        responder(config, seed_in_use(config.testing)),
        admission(config, stats, log),
        lifetimes(config.testing.max_lifetime.count() > 0 ? std::make_unique<LifetimeWatch>()
                                                          : nullptr),
        services{config, responder, admission, log, stats, lifetimes.get()},
        registry(config.max_per_ip, [this] { on_connection_removed(); }),
        threads(config.thread_stack, kMaxParkedThreads, kParkTime) {}

  void accept_loop();
  void accept_ready();
  void start_connection(UniqueFd fd, const Endpoint& peer);
  // Runs the connection on a thread; when none can be had, holds it (defer) or refuses it.
  // retry: it is the one that was held.
  void start_or_hold(std::shared_ptr<Connection> connection, bool retry = false);
  void back_off();
  // A client refused before it became a Connection.
  void refuse(UniqueFd fd, const Endpoint& peer, RejectReason reason, std::string_view detail);
  void drain();
  void on_connection_removed() {
    if (config.overflow == OverflowPolicy::kDefer) waker.notify();
  }

  const ServerConfig config;
  ServerLog log;
  // The TLS context new handshakes use (when the port speaks TLS). reload_tls() replaces it;
  // each TlsStream holds the one it started with, so open connections keep theirs.
  std::shared_ptr<const TlsContext> current_tls() const {
    const std::lock_guard lock(tls_mutex);
    return tls;
  }
  // The old context is freed when context goes out of scope, after the lock, unless a
  // connection still holds it.
  void replace_tls(std::shared_ptr<const TlsContext> context) {
    const std::lock_guard lock(tls_mutex);
    tls.swap(context);
  }
  mutable std::mutex tls_mutex;
  std::shared_ptr<const TlsContext> tls;  // guarded by tls_mutex
  const bool tls_enabled;
  ServerStats stats;
  // --pcap: opened by open(), flushed at the end of the drain. Declared before threads (and
  // after log): closed only once every connection thread is gone, its last lines logged.
  std::unique_ptr<PcapWriter> pcap;
  Waker waker;
  LiveResponder responder;  // replaceable for new connections (replace_reply, replace_rules)
  Admission admission;      // not const: its access rules can be replaced (replace_access_rules)
  // Outlives every connection (they are joined before it is destroyed).
  const std::unique_ptr<LifetimeWatch> lifetimes;
  const ConnectionServices services;
  ConnectionRegistry registry;
  ConnectionThreads threads;
  std::optional<Listener> listener;
  std::size_t max_connections = 0;
  std::string_view max_connections_bounded_by;  // static text
  std::atomic<bool> stop_requested{false};
  std::uint64_t connections_started = 0;  // numbers connections for the log; accept loop only
  // While set, the listener is left out of poll() until then: accept() ran out of fds or memory,
  // or no thread could be had. An absolute time, so that wake-ups in between (a client leaving)
  // do not push it back. The step persists across periods so repeated failures double it.
  std::optional<std::chrono::steady_clock::time_point> paused_until;
  std::chrono::milliseconds back_off_step{0};
  // --overflow defer: a client accepted when no thread could be had, started as soon as one
  // can (a client leaving parks its thread, and wakes this loop); nothing else is accepted
  // meanwhile.
  std::shared_ptr<Connection> waiting_for_thread;
};

Server::Server(ServerConfig config, std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(logger))) {}

Server::~Server() {
  // run() may never have been called; anything it started is joined by the members' destructors
  // (ConnectionThreads joins its threads).
  stop();
}

void Server::open(UniqueFd inherited_listener) {
  Impl& impl = *impl_;
  if (!impl.config.pcap_file.empty()) {
    impl.pcap = std::make_unique<PcapWriter>(
        PcapWriter::Options{.path = impl.config.pcap_file, .max_size = impl.config.pcap_max_size},
        impl.log);
  }
  if (inherited_listener) {
    impl.listener = Listener::adopt(std::move(inherited_listener));
  } else {
    impl.listener = Listener::open(impl.config.listen);
  }
  // Every connection is an fd and a thread: the default is what the system can carry.
  const ConnectionCeiling ceiling = connection_ceiling(probe_system_limits());
  const bool derived = impl.config.max_connections == 0;
  impl.max_connections = derived ? ceiling.limit : impl.config.max_connections;
  impl.max_connections_bounded_by = derived ? ceiling.bounded_by : "--max-connections";
  impl.log.listening(
      impl.listener->local_endpoint(), impl.listener->inherited(), impl.max_connections,
      derived ? ceiling.bounded_by : std::string_view(),
      impl.tls_enabled ? std::string_view(impl.current_tls()->fingerprint()) : std::string_view());
  if (impl.max_connections > ceiling.limit) {
    impl.log.note(spdlog::level::warn, "limit",
                  fmt::format("--max-connections {} is more than this system can carry ({} "
                              "connections, bounded by {}); beyond that, clients wait or are "
                              "refused and other programs may fail to start threads",
                              impl.max_connections, ceiling.limit, ceiling.bounded_by));
  }
  if (impl.config.testing.uses_randomness() || impl.config.testing.seed) {
    impl.log.note(spdlog::level::info, "seed",
                  fmt::format("random choices seeded with {} (--seed {} repeats them)",
                              impl.responder.seed(), impl.responder.seed()));
  }
  impl.log.wake_when_summary_pending([&impl] { impl.waker.notify(); });
}

Endpoint Server::local_endpoint() const {
  return impl_->listener ? impl_->listener->local_endpoint() : Endpoint();
}

void Server::run() {
  if (!impl_->listener) throw std::logic_error("Server::run() before open()");
  std::exception_ptr failure;
  try {
    impl_->accept_loop();
  } catch (const std::exception& error) {
    // Clients already connected are still drained and joined before the failure is reported.
    impl_->log.note(spdlog::level::err, "error",
                    fmt::format("accept loop failed: {}", error.what()));
    failure = std::current_exception();
  }
  impl_->drain();
  if (impl_->pcap) impl_->pcap->flush();
  if (failure) std::rethrow_exception(failure);
}

void Server::stop() noexcept {
  impl_->stop_requested.store(true);
  impl_->waker.notify();
}

void Server::replace_access_rules(AccessRules rules) {
  impl_->admission.replace_access_rules(std::move(rules));
}

ReloadResult Server::reload_tls() {
  Impl& impl = *impl_;
  const TlsSettings& settings = impl.config.tls;
  if (!impl.tls_enabled) return ReloadResult::reloaded("TLS is off: nothing to re-read");
  if (settings.self_signed) {
    // The generated key exists only in memory: a new one would change the certificate clients
    // were told to pin (--tls-cert-out) for no reason the operator gave.
    return ReloadResult::reloaded(
        fmt::format("--tls-self-signed: nothing to re-read, the certificate generated at start "
                    "(SHA-256 {}) stays",
                    impl.current_tls()->fingerprint()));
  }
  std::vector<std::string> warnings;
  std::shared_ptr<const TlsContext> context;
  try {
    context = std::make_shared<const TlsContext>(
        TlsContext::create(settings, impl.config.listen.host, warnings));
  } catch (const std::runtime_error& error) {
    return ReloadResult::failed(fmt::format("{}; the old certificate (SHA-256 {}) stays",
                                            error.what(), impl.current_tls()->fingerprint()));
  }
  for (const std::string& warning : warnings) impl.log.note(spdlog::level::warn, "tls", warning);
  std::string detail =
      fmt::format("{} (SHA-256 {}), for handshakes from now on; open connections keep theirs",
                  settings.cert_path, context->fingerprint());
  impl.replace_tls(std::move(context));
  return ReloadResult::reloaded(std::move(detail));
}

void Server::replace_reply(std::string reply) {
  impl_->responder.replace_reply(std::move(reply));
}

void Server::replace_rules(std::shared_ptr<const RuleSet> rules) {
  impl_->responder.replace_rules(std::move(rules));
}

StatsSnapshot Server::stats() const {
  StatsSnapshot snapshot = impl_->stats.snapshot();
  snapshot.active = impl_->registry.size();
  return snapshot;
}

ConnectionCeiling Server::connection_limit() const {
  return {impl_->max_connections, impl_->max_connections_bounded_by};
}

void Server::Impl::accept_loop() {
  using Clock = std::chrono::steady_clock;
  while (!stop_requested.load()) {
    if (paused_until && Clock::now() >= *paused_until) paused_until.reset();
    if (waiting_for_thread) start_or_hold(std::exchange(waiting_for_thread, nullptr), true);
    const bool deferring =
        config.overflow == OverflowPolicy::kDefer && registry.size() >= max_connections;
    const bool accepting = !deferring && !paused_until && !waiting_for_thread;
    pollfd fds[2] = {{waker.fd(), POLLIN, 0}, {accepting ? listener->fd() : -1, POLLIN, 0}};
    // Wake for the end of a pause and for a due summary of rejections not logged.
    auto wake_at = log.next_summary_due();
    if (paused_until && (!wake_at || *paused_until < *wake_at)) wake_at = paused_until;
    const int timeout = poll_timeout_until(wake_at, Clock::now());
    const int ready = retry_on_eintr([&] { return ::poll(fds, 2, timeout); });
    if (ready < 0) throw std::system_error(errno_code(errno), "poll");
    log.write_due_summaries(Clock::now());
    if (fds[0].revents != 0) waker.clear();
    if (accepting && fds[1].revents != 0) accept_ready();
  }
}

void Server::Impl::back_off() {
  back_off_step = std::clamp(back_off_step * 2, kFirstBackOff, kMaxBackOff);
  paused_until = std::chrono::steady_clock::now() + back_off_step;
}

void Server::Impl::accept_ready() {
  // Take what is queued now, but return to poll() regularly so stop() is seen under a flood.
  for (int taken = 0; taken < 64 && !stop_requested.load(); ++taken) {
    if (config.overflow == OverflowPolicy::kDefer && registry.size() >= max_connections) return;
    if (waiting_for_thread) return;
    Listener::Accepted accepted = listener->accept();
    if (!accepted.error) {
      if (std::exchange(back_off_step, std::chrono::milliseconds(0)).count() > 0) {
        log.accept_recovered();
      }
      stats.on_accepted();
      try {
        start_connection(std::move(accepted.fd), accepted.peer);
      } catch (const std::exception& error) {
        // Out of memory for one client (its socket is closed by now): the server goes on.
        log.note(spdlog::level::err, "error",
                 fmt::format("{}: cannot serve this client: {}", accepted.peer.to_string(),
                             error.what()));
      }
      continue;
    }
    switch (classify_accept_error(accepted.error)) {
      case AcceptErrorAction::kRetry:
        continue;
      case AcceptErrorAction::kWait:
        return;
      case AcceptErrorAction::kBackOff:
        back_off();
        log.accept_failing(accepted.error, back_off_step);
        return;
      case AcceptErrorAction::kStop:
        throw std::system_error(accepted.error, "accept");
    }
  }
}

void Server::Impl::start_connection(UniqueFd fd, const Endpoint& peer) {
  if (auto refusal = Admission::over_limit(registry.size(), max_connections)) {
    refuse(std::move(fd), peer, refusal->reason, refusal->detail);
    return;
  }
  // Built a step at a time, so that when memory runs out the client is still refused (with
  // --reject-message if any) by whichever piece holds its socket by then.
  std::unique_ptr<ByteStream> stream;
  std::shared_ptr<Connection> connection;
  try {
    const std::uint64_t id = ++connections_started;
    const Endpoint local = pcap ? tcp_server::local_endpoint(fd.get()) : Endpoint();
    stream = std::make_unique<SocketStream>(std::move(fd));
    // A throttle paces what goes on the wire (a TLS stream writes its records through it).
    if (config.testing.throttle_bytes_per_second > 0) {
      stream = std::make_unique<ThrottledStream>(std::move(stream),
                                                 config.testing.throttle_bytes_per_second);
    }
    // TLS starts at admission, after any PROXY header (Connection::admit).
    if (tls_enabled) stream = std::make_unique<TlsStream>(std::move(stream), current_tls());
    // Outside TLS, so that the capture holds what the connection reads and writes: plaintext.
    if (pcap) stream = std::make_unique<CaptureStream>(std::move(stream), *pcap, local, id);
    connection = std::make_shared<Connection>(std::move(stream), peer, id, services);
    connection->enroll(registry.add(*connection));
  } catch (const std::bad_alloc&) {
    if (connection) {
      connection->refuse(RejectReason::kNoThread, "out of memory");
    } else if (stream) {
      admission.refuse(*stream, {}, peer.to_string(), RejectReason::kNoThread, "out of memory");
    } else {
      refuse(std::move(fd), peer, RejectReason::kNoThread, "out of memory");
    }
    return;
  }
  start_or_hold(std::move(connection));
}

void Server::Impl::start_or_hold(std::shared_ptr<Connection> connection, bool retry) {
  std::error_code error;
  try {
    error = threads.start([connection] { connection->serve(); });
  } catch (const std::bad_alloc&) {  // making the job
    error = std::make_error_code(std::errc::not_enough_memory);
  }
  if (!error) {
    if (retry) {
      paused_until.reset();
      back_off_step = {};
    }
    return;
  }
  if (config.overflow == OverflowPolicy::kDefer && error != std::errc::operation_canceled) {
    if (!retry) {
      log.note(spdlog::level::warn, "no_thread",
               fmt::format("no thread for a client ({}): not accepting until one is free",
                           error.message()));
    }
    waiting_for_thread = std::move(connection);
    back_off();
    return;
  }
  connection->refuse(RejectReason::kNoThread, error.message());
}

void Server::Impl::refuse(UniqueFd fd, const Endpoint& peer, RejectReason reason,
                          std::string_view detail) {
  SocketStream stream(std::move(fd));
  admission.refuse(stream, {}, peer.to_string(), reason, detail);
}

void Server::Impl::drain() {
  const auto started = std::chrono::steady_clock::now();
  // An inherited listener stays open: its owner (systemd) keeps queueing clients for the next
  // instance. Our own is closed so that new clients are refused at once rather than queued.
  if (!listener->inherited()) listener.reset();
  if (waiting_for_thread) {
    std::exchange(waiting_for_thread, nullptr)->refuse(RejectReason::kNoThread, "shutting down");
  }
  const std::size_t open_connections = registry.size();
  log.note(spdlog::level::info, "stopping",
           fmt::format("stopping: no longer accepting; {} connection{} open, drain up to {}",
                       open_connections, open_connections == 1 ? "" : "s",
                       format_duration(config.drain_timeout)));
  registry.begin_drain();
  if (!registry.wait_until_empty(started + config.drain_timeout)) {
    log.note(spdlog::level::warn, "drain_deadline",
             fmt::format("drain deadline passed; closing {} connection{}", registry.size(),
                         registry.size() == 1 ? "" : "s"));
    registry.shut_down_all(SHUT_RD);
    if (!registry.wait_until_empty(std::chrono::steady_clock::now() + kForcedCloseGrace)) {
      registry.shut_down_all(SHUT_RDWR);
    }
  }
  threads.join_all();  // every connection has returned from serve() once this returns
  log.write_due_summaries(std::chrono::steady_clock::now(), /*force=*/true);
  StatsSnapshot summary = stats.snapshot();
  summary.active = registry.size();
  log.stats(fmt::format("stopped after a {} drain",
                        format_duration(std::chrono::steady_clock::now() - started)),
            summary);
}

}  // namespace tcp_server
