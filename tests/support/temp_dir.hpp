#pragma once

#include <stdlib.h>  // mkdtemp

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace tcp_server::testing {

// A directory for one test's files (configs, certificates, logs), removed with everything in it
// when the test ends.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "tcp_server_test") {
    std::string pattern = std::filesystem::temp_directory_path() / (prefix + "_XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;  // a destructor must not throw; what is left is in /tmp
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] std::string path() const { return path_; }
  [[nodiscard]] std::string path(const std::string& name) const { return path_ / name; }

  // Writes bytes to the file name in the directory; returns its path.
  std::string file(const std::string& name, const std::string& bytes) const {
    std::ofstream(path_ / name, std::ios::binary) << bytes;
    return path(name);
  }
  // The same, written aside and renamed into place as an editor does, so that a server
  // re-reading the file (SIGHUP) never sees half of it.
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string target = path(name);
    const std::string staged = target + ".new";
    std::ofstream(staged, std::ios::binary) << bytes;
    std::filesystem::rename(staged, target);
    return target;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace tcp_server::testing
