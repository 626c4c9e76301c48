// The process around the server: signals, the log, systemd notifications, periodic stats, and
// the order in which they start and stop.
#include "supervisor.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include "metrics_endpoint.hpp"
#include "process_log.hpp"
#include "reloads.hpp"
#include "signal_watcher.hpp"
#include "tcp_server/metrics.hpp"
#include "tcp_server/server.hpp"
#include "tcp_server/systemd.hpp"

namespace tcp_server {
namespace {

// How often systemd's STATUS= line is refreshed when running under it.
constexpr std::chrono::milliseconds kSystemdStatusInterval{5000};

// Runs server.run() on a thread of its own and wakes main's signal wait when it returns. The
// destructor stops the server and joins, so no exit path leaves a joinable thread behind.
class ServingThread {
 public:
  ServingThread(Server& server, SignalWatcher& signals)
      : server_(server), thread_([this, &signals] {
          try {
            server_.run();
          } catch (...) {
            failure_ = std::current_exception();
          }
          signals.wake();
        }) {}
  ~ServingThread() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }
  ServingThread(const ServingThread&) = delete;
  ServingThread& operator=(const ServingThread&) = delete;

  // Waits for run() to return; rethrows what it threw.
  void join() {
    thread_.join();
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  Server& server_;
  std::exception_ptr failure_;
  std::thread thread_;
};

// SIGHUP: one line per part reloaded or failed. Runs during a drain too (a log rotated then
// is reopened); it never stops the server or touches a connection.
void reload(const Reloader& reloader, ProcessLog& log) {
  if (reloader.empty()) {
    log.note(spdlog::level::info, "reload",
             "received SIGHUP: nothing to reload (no --log-file, --allow-file, --deny-file, "
             "--reply-file, --rules or TLS)");
    return;
  }
  for (const ReloadOutcome& outcome : reloader.reload_all()) {
    log.note(outcome.result.ok ? spdlog::level::info : spdlog::level::err, "reload",
             format_reload_outcome(outcome));
  }
}

}  // namespace

int run_until_stopped(const AppOptions& options, InheritedSockets inherited,
                      bool stdout_was_closed) {
  const SystemdNotifier systemd = SystemdNotifier::from_environment();

  // Writes to a vanished reader (stderr, or the log before its writer thread starts) return
  // EPIPE instead of killing the process; client sockets use MSG_NOSIGNAL anyway.
  ::signal(SIGPIPE, SIG_IGN);
  // Before any thread exists (the log writer is the first), so every thread inherits the
  // blocked mask and the signals reach only the signalfd.
  std::optional<SignalWatcher> signals;
  try {
    signals.emplace(std::initializer_list<int>{SIGINT, SIGTERM, SIGUSR1, SIGHUP});
  } catch (const std::exception& error) {
    std::cerr << "tcp_server: error: " << error.what() << '\n';
    return 1;
  }
  // A log destination that fails (its reader is gone) stops the server gracefully: clients
  // already being answered get their replies, and the exit status says the log is incomplete.
  std::atomic<bool> log_failed{false};
  std::optional<ProcessLog> log;
  try {
    log.emplace(
        options.log_file, options.log_level, options.server.log_format, [&](std::error_code error) {
          print_error_line(fmt::format(
              "tcp_server: the log output failed ({}); stopping after the drain", error.message()));
          log_failed.store(true);
          signals->wake();
        });
  } catch (const std::system_error& error) {
    std::cerr << "tcp_server: error: " << error.what() << '\n';
    return 1;
  }
  if (stdout_was_closed && options.log_file.empty()) {
    print_error_line(
        "tcp_server: warning: standard output is closed; the log is discarded "
        "(use --log-file)");
  }
  if (inherited.count > 1) {
    log->note(spdlog::level::warn, "inherited_sockets",
              fmt::format("{} sockets inherited; serving the first (fd {}) only", inherited.count,
                          kListenFdsStart));
  }

  int status = 0;
  try {
    Server server(options.server, log->server_logger());
    const Reloader reloader = process_reloads(options, *log, server);
    server.open(std::move(inherited.listener));
    // Before serving, so that a bad address stops the start; destroyed before the server.
    std::optional<MetricsEndpoint> metrics;
    if (options.metrics_listen) {
      metrics.emplace(*options.metrics_listen, std::make_shared<ServerMetrics>(
                                                   [&server] { return server.stats(); },
                                                   server.connection_limit(), TCP_SERVER_VERSION));
      log->note(spdlog::level::info, "metrics",
                fmt::format("metrics on http://{}/metrics", metrics->local_endpoint().to_string()));
    }
    systemd.notify("READY=1\nSTATUS=listening on " + server.local_endpoint().to_string());
    ServingThread serving(server, *signals);

    // Wake for periodic stats and for systemd's status line, whichever is due first.
    using Clock = std::chrono::steady_clock;
    const bool periodic_stats = options.stats_interval.count() > 0;
    auto next_stats = Clock::now() + options.stats_interval;
    auto next_status = Clock::now() + kSystemdStatusInterval;
    bool stopping = false;
    const auto begin_stop = [&](const std::string& why) {
      stopping = true;
      log->note(spdlog::level::info, "signal", why);  // never waits for the log
      // However stuck the log is, no client thread waits on it past the drain deadline, so the
      // drain ends on time; lines that find no room then are counted and reported at exit.
      log->stop_waiting_after(Clock::now() + options.server.drain_timeout);
      server.stop();
      systemd.notify("STOPPING=1\nSTATUS=draining");
    };
    for (;;) {
      auto next_due = Clock::time_point::max();
      if (periodic_stats) next_due = next_stats;
      if (systemd.enabled() && !stopping) next_due = std::min(next_due, next_status);
      const auto timeout =
          next_due == Clock::time_point::max()
              ? std::chrono::milliseconds(-1)
              : std::max(
                    std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(next_due - Clock::now()));
      const int signal = signals->wait(timeout);
      if (signal == SignalWatcher::kWoken) {
        if (!log_failed.exchange(false)) break;  // run() returned
        status = 1;
        if (!stopping) begin_stop("the log output failed: shutting down");
        continue;
      }
      if (signal == SignalWatcher::kTimedOut) {
        const auto now = Clock::now();
        try {
          if (periodic_stats && now >= next_stats) log->stats("stats", server.stats());
          if (systemd.enabled() && now >= next_status) {
            systemd.notify("STATUS=" + format_stats(server.stats()));
          }
        } catch (const std::exception& error) {
          log->note(spdlog::level::err, "error", fmt::format("stats: {}", error.what()));
        }
        if (now >= next_stats) next_stats = now + options.stats_interval;
        if (now >= next_status) next_status = now + kSystemdStatusInterval;
        continue;
      }
      if (signal == SIGUSR1) {
        log->stats("stats", server.stats());
        continue;
      }
      if (signal == SIGHUP) {
        reload(reloader, *log);
        continue;
      }
      if (stopping) {
        // Straight to stderr: the log may be the very thing that is stuck.
        print_error_line(
            fmt::format("tcp_server: second SIG{}: exiting now without waiting for clients",
                        ::sigabbrev_np(signal)));
        std::_Exit(1);
      }
      begin_stop(fmt::format("received SIG{}: shutting down (send it again to exit at once)",
                             ::sigabbrev_np(signal)));
    }
    serving.join();
  } catch (const std::exception& error) {
    print_error_line(fmt::format("tcp_server: error: {}", error.what()));
    status = 1;
  }
  if (!log->close()) status = 1;
  return status;
}

}  // namespace tcp_server
