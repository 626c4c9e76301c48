#pragma once

#include "cli.hpp"
#include "socket_activation.hpp"

namespace tcp_server {

// Runs the server as the process it is: blocks SIGINT/SIGTERM/SIGUSR1/SIGHUP (before any thread
// starts) and reads them from a signalfd, opens the log, serves (the inherited socket, if any),
// logs stats (SIGUSR1), reloads (SIGHUP: process_reloads()) and tells systemd how it is doing,
// drains on the first SIGINT/SIGTERM and exits on the second. Returns the exit status: 0, or 1 when
// the server failed or the log is incomplete.
int run_until_stopped(const AppOptions& options, InheritedSockets inherited,
                      bool stdout_was_closed);

}  // namespace tcp_server
