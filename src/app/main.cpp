// tcp_server: parse argv, prepare the process, run the server until it is stopped.
#include <iostream>
#include <stdexcept>

#include "cli.hpp"
#include "process_setup.hpp"
#include "socket_activation.hpp"
#include "supervisor.hpp"

int main(int argc, char** argv) {
  using namespace tcp_server;
  block_reload_and_stats_signals();
  const bool stdout_was_closed = occupy_closed_standard_fds();
  const CommandLine command_line = parse_command_line(argc, argv, std::cout, std::cerr);
  if (!command_line.options) return command_line.exit_code;

  // systemd socket activation: serve the socket we were handed instead of binding one.
  InheritedSockets inherited;
  try {
    inherited = take_inherited_sockets();
  } catch (const std::invalid_argument& error) {
    std::cerr << "tcp_server: error: " << error.what() << '\n';
    return 2;
  }
  raise_open_file_limit();
  return run_until_stopped(*command_line.options, std::move(inherited), stdout_was_closed);
}
