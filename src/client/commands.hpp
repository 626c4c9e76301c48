#pragma once

#include <iosfwd>

#include "client_options.hpp"

namespace tcp_server::client {

// N concurrent clients (a thread each, like the tutorial's "client 2.0"), each sending its
// messages one at a time and printing every reply as "client ID: reply" (escaped, so a server
// cannot write control bytes to the terminal); then a summary line. Returns 0 when every
// client got every reply, 1 otherwise (each failure is one line on err, saying why).
int run_send(const SendOptions& options, std::ostream& out, std::ostream& err);

// Interactive, like nc: bytes read from in_fd go to the server, the server's bytes go to out_fd
// unchanged. At end of input it half-closes and waits (up to options.timeout) for the server to
// close, so replies still on their way are printed. 0 on a clean end, 1 otherwise.
int run_chat(const ChatOptions& options, int in_fd, int out_fd, std::ostream& err);

}  // namespace tcp_server::client
