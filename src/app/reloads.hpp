#pragma once

#include "cli.hpp"
#include "process_log.hpp"
#include "tcp_server/reloadable.hpp"
#include "tcp_server/server.hpp"

namespace tcp_server {

// What SIGHUP reloads in this process, in order: the --log-file first (so the lines about the
// rest go to the new file), then the --allow-file/--deny-file rules, the --reply-file, the
// --rules. A part that is not configured is not listed. New parts (the TLS certificate) are
// added in reloads.cpp; see tcp_server/reloadable.hpp for what each must promise.
// options, log and server outlive the result.
Reloader process_reloads(const AppOptions& options, ProcessLog& log, Server& server);

}  // namespace tcp_server
