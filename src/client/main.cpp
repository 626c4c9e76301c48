// tcp_client: parse argv, run one command.
#include <unistd.h>

#include <iostream>
#include <system_error>

#include "bench.hpp"
#include "cli_common/open_file_limit.hpp"
#include "client_cli.hpp"
#include "commands.hpp"

namespace {

int run_bench_command(const tcp_server::client::BenchOptions& options) {
  using namespace tcp_server::client;
  tcp_server::Endpoint server;
  try {
    server = resolve_target(options.target);
  } catch (const std::system_error& error) {
    std::cerr << "tcp_client: error: " << error.what() << '\n';
    return 1;
  }
  try {
    const BenchResult result = run_bench(options, server, &std::cerr);
    std::cout << (options.json ? format_json(options, result) : format_summary(options, result));
    // Not one TLS handshake succeeded: the run measured nothing but the refusal.
    if (options.tls.enabled && result.handshakes == 0 && !result.first_tls_error.empty()) {
      std::cerr << "tcp_client: error: TLS: " << result.first_tls_error << '\n';
      return 1;
    }
  } catch (const std::exception& error) {
    std::cerr << "tcp_client: error: " << error.what() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tcp_server::client;
  const ClientCommandLine command_line =
      parse_client_command_line(argc, argv, std::cout, std::cerr);
  // Hold mode opens thousands of sockets; the default soft limit (1024) would refuse them.
  tcp_server::raise_open_file_limit();
  switch (command_line.command) {
    case Command::kNone:
      return command_line.exit_code;
    case Command::kSend:
      return run_send(command_line.send, std::cout, std::cerr);
    case Command::kChat:
      return run_chat(command_line.chat, STDIN_FILENO, STDOUT_FILENO, std::cerr);
    case Command::kBench:
      return run_bench_command(command_line.bench);
  }
  return 1;
}
