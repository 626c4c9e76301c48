#pragma once

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "eventually.hpp"

namespace tcp_server::testing {

// A file's bytes as they are now (empty when it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

// Waits (bounded) until the file holds text: for a log the server writes asynchronously.
inline bool file_contains(const std::string& path, const std::string& text,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return eventually([&] { return read_file(path).find(text) != std::string::npos; }, timeout);
}

}  // namespace tcp_server::testing
