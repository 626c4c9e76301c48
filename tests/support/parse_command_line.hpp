#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"

namespace tcp_server::testing {

// What tcp_server's command line parser made of some arguments, and what it printed.
struct Parsed {
  CommandLine result;
  std::string out;
  std::string err;
};

// args without the program name, which is added.
inline Parsed parse(std::vector<std::string> args) {
  args.insert(args.begin(), "tcp_server");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream err;
  Parsed parsed;
  parsed.result = parse_command_line(static_cast<int>(argv.size()), argv.data(), out, err);
  parsed.out = out.str();
  parsed.err = err.str();
  return parsed;
}

}  // namespace tcp_server::testing
