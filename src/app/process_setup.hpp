#pragma once

namespace tcp_server {

// Opens /dev/null on each of fds 0, 1 and 2 that is closed (`tcp_server >&-`): otherwise the
// next socket would get that number, and log lines meant for stdout would go to it. Returns
// whether stdout was closed. Call first thing in main().
bool occupy_closed_standard_fds();

// Each connection costs an fd; the soft limit (often 1024) is far below what the hard limit
// allows, so take all of it. The server derives its connection limit from what is in force.
void raise_open_file_limit();

}  // namespace tcp_server
