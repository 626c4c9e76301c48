#pragma once

// raise_open_file_limit(), shared with tcp_client.
#include "cli_common/open_file_limit.hpp"

namespace tcp_server {

// Opens /dev/null on each of fds 0, 1 and 2 that is closed (`tcp_server >&-`): otherwise the
// next socket would get that number, and log lines meant for stdout would go to it. Returns
// whether stdout was closed. Call first thing in main().
bool occupy_closed_standard_fds();

// Blocks SIGHUP (reload) and SIGUSR1 (stats): their default action ends the process, and
// logrotate's postrotate or a monitoring script may send one while the server is still starting,
// before the supervisor watches them. Blocked, they stay pending until then, and are read as
// the requests they are. Call first thing in main(), before any thread starts.
void block_reload_and_stats_signals();

}  // namespace tcp_server
