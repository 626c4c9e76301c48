// tcp_server: parse argv, set up the process (fd limit, signals, logger), run the server.
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <string_view>
#include <thread>

#include "cli.hpp"
#include "signal_watcher.hpp"
#include "tcp_server/server.hpp"
#include "tcp_server/systemd.hpp"

namespace {

using tcp_server::LogFormat;

// Each connection costs an fd; the soft limit (often 1024) is far below what the hard limit
// allows, so take all of it. Returns the soft limit in force afterwards.
std::size_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<std::size_t>(limit.rlim_cur);
}

// How often systemd's STATUS= line is refreshed when running under it.
constexpr std::chrono::milliseconds kSystemdStatusInterval{5000};

// Records waiting for the log writer; at about 300 bytes each, a few MiB at most.
constexpr std::size_t kLogQueueRecords = 8192;

// Client threads only format and enqueue; one writer thread does the write(2)s, so a slow
// terminal or disk no longer serializes every client behind the sink's lock. When the queue is
// full, client threads wait (overflow_policy::block): the log is never silently incomplete,
// and a log destination that stops accepting writes slows the server to its pace.
std::shared_ptr<spdlog::logger> make_logger(spdlog::level::level_enum level, LogFormat format,
                                            const std::string& log_file,
                                            std::shared_ptr<spdlog::details::thread_pool> writer) {
  spdlog::sink_ptr sink;
  if (log_file.empty()) {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file, /*truncate=*/false);
  }
  auto logger = std::make_shared<spdlog::async_logger>(
      "tcp_server", std::move(sink), std::move(writer), spdlog::async_overflow_policy::block);
  logger->set_pattern(format == LogFormat::kJson ? tcp_server::kJsonLogPattern
                                                 : tcp_server::kTextLogPattern);
  logger->set_level(level);
  // Written through at once (by the writer thread), so `tail -f` and tests see each event.
  logger->flush_on(spdlog::level::info);
  return logger;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tcp_server;
  CommandLine command_line = parse_command_line(argc, argv, std::cout, std::cerr);
  if (!command_line.options) return command_line.exit_code;
  AppOptions& options = *command_line.options;

  // systemd socket activation: serve the socket we were handed instead of binding one.
  int inherited_sockets = 0;
  try {
    inherited_sockets =
        parse_listen_fds(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"), ::getpid());
  } catch (const std::invalid_argument& error) {
    std::cerr << "tcp_server: error: " << error.what() << '\n';
    return 2;
  }
  if (inherited_sockets > 0) {
    options.server.inherited_listen_fd = kListenFdsStart;
    // Not for our children (sd_listen_fds(3) with unset_environment).
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
  }
  const SystemdNotifier systemd = SystemdNotifier::from_environment();

  const std::size_t fd_limit = raise_open_file_limit();
  // Before any thread exists (the log writer is the first), so every thread inherits the
  // blocked mask and the signals reach only the signalfd.
  std::optional<SignalWatcher> signals;
  try {
    signals.emplace(std::initializer_list<int>{SIGINT, SIGTERM, SIGUSR1});
  } catch (const std::exception& error) {
    std::cerr << "tcp_server: error: " << error.what() << '\n';
    return 1;
  }
  // The only owner of the writer thread (loggers hold weak pointers): resetting it writes out
  // every queued record and joins the thread, so nothing is lost at exit.
  auto log_writer = std::make_shared<spdlog::details::thread_pool>(kLogQueueRecords, 1);
  if (!options.log_file.empty()) {
    // spdlog's file sink creates missing directories; a mistyped path should be an error.
    std::FILE* probe = std::fopen(options.log_file.c_str(), "a");
    if (probe == nullptr) {
      std::cerr << "tcp_server: error: --log-file: cannot open " << options.log_file << ": "
                << std::strerror(errno) << '\n';
      return 1;
    }
    std::fclose(probe);
  }
  std::shared_ptr<spdlog::logger> logger;
  try {
    logger =
        make_logger(options.log_level, options.server.log_format, options.log_file, log_writer);
  } catch (const spdlog::spdlog_ex& error) {
    std::cerr << "tcp_server: error: --log-file: " << error.what() << '\n';
    return 1;
  }
  // main's own lines, in the chosen format (the server's go through its ServerLog).
  const auto log_note = [&logger, json = options.server.log_format == LogFormat::kJson](
                            spdlog::level::level_enum level, std::string_view event,
                            const std::string& text) {
    if (json) {
      logger->log(level, R"("event":{},"message":{})", json_quote(event), json_quote(text));
    } else {
      logger->log(level, "{}", text);
    }
  };
  if (options.server.max_connections + 32 > fd_limit && options.server.max_connections > 0) {
    log_note(spdlog::level::warn, "fd_limit",
             fmt::format("--max-connections {} is more than the open-file limit ({}) allows; "
                         "clients beyond it will wait in the backlog while accept() backs off",
                         options.server.max_connections, fd_limit));
  }

  if (inherited_sockets > 1) {
    log_note(spdlog::level::warn, "inherited_sockets",
             fmt::format("{} sockets inherited; serving the first (fd {}) only", inherited_sockets,
                         kListenFdsStart));
  }

  try {
    Server server(options.server, logger);
    server.open();
    systemd.notify("READY=1\nSTATUS=listening on " + server.local_endpoint().to_string());

    std::exception_ptr run_failure;
    std::thread serving([&] {
      try {
        server.run();
      } catch (...) {
        run_failure = std::current_exception();
      }
      signals->wake();
    });

    // Wake for periodic stats and for systemd's status line, whichever is due first.
    using Clock = std::chrono::steady_clock;
    const bool periodic_stats = options.stats_interval.count() > 0;
    auto next_stats = Clock::now() + options.stats_interval;
    auto next_status = Clock::now() + kSystemdStatusInterval;
    bool stopping = false;
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
      if (signal == SignalWatcher::kWoken) break;
      if (signal == SignalWatcher::kTimedOut) {
        const auto now = Clock::now();
        if (periodic_stats && now >= next_stats) {
          server.log_stats();
          next_stats = now + options.stats_interval;
        }
        if (systemd.enabled() && now >= next_status) {
          systemd.notify("STATUS=" + format_stats(server.stats()));
          next_status = now + kSystemdStatusInterval;
        }
        continue;
      }
      if (signal == SIGUSR1) {
        server.log_stats();
        continue;
      }
      if (stopping) {
        log_note(spdlog::level::warn, "exit_now",
                 fmt::format("second SIG{}: exiting now without waiting for clients",
                             ::sigabbrev_np(signal)));
        log_writer.reset();
        std::_Exit(1);
      }
      stopping = true;
      systemd.notify("STOPPING=1\nSTATUS=draining");
      log_note(spdlog::level::info, "signal",
               fmt::format("received SIG{}: shutting down (send it again to exit at once)",
                           ::sigabbrev_np(signal)));
      server.stop();
    }
    serving.join();
    if (run_failure) std::rethrow_exception(run_failure);
    log_writer.reset();
    return 0;
  } catch (const std::exception& error) {
    log_writer.reset();
    std::cerr << "tcp_server: error: " << error.what() << '\n';
    return 1;
  }
}
