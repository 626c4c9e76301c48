#pragma once

namespace tcp_server {

// Raises the soft RLIMIT_NOFILE to the hard limit, quietly (a failure leaves the limit as it
// was). Every connection costs an fd and the soft limit (often 1024) is far below what the hard
// limit allows: tcp_server derives its connection limit from what is in force, tcp_client's
// hold mode opens thousands of sockets.
void raise_open_file_limit();

}  // namespace tcp_server
