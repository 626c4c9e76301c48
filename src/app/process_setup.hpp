#pragma once

// raise_open_file_limit(), shared with tcp_client.
#include "cli_common/open_file_limit.hpp"

namespace tcp_server {

// Opens /dev/null on each of fds 0, 1 and 2 that is closed (`tcp_server >&-`): otherwise the
// next socket would get that number, and log lines meant for stdout would go to it. Returns
// whether stdout was closed. Call first thing in main().
bool occupy_closed_standard_fds();

}  // namespace tcp_server
