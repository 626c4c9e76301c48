#pragma once

#include <iosfwd>

#include "client_options.hpp"

namespace tcp_server::client {

enum class Command { kNone, kSend, kChat, kBench };

struct ClientCommandLine {
  Command command = Command::kNone;  // kNone: exit with exit_code
  SendOptions send;
  ChatOptions chat;
  BenchOptions bench;
  int exit_code = 0;
};

// argv in, one command's options or an exit code out. --help/--version print to out and give
// 0; an error is one line on err ("tcp_client: error: ...") and exit code 2.
ClientCommandLine parse_client_command_line(int argc, const char* const* argv, std::ostream& out,
                                            std::ostream& err);

}  // namespace tcp_server::client
