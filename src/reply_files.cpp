#include "tcp_server/reply_files.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <ios>
#include <iterator>
#include <stdexcept>

namespace tcp_server {

std::string read_reply_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": " + std::strerror(errno));
  std::string bytes;
  try {
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::ios_base::failure&) {
    // libstdc++ throws from underflow (a directory: EISDIR), with no path in its message.
    throw std::runtime_error(path + ": " + std::strerror(errno));
  }
  if (in.bad()) throw std::runtime_error(path + ": cannot read it");
  // An empty reply would look like --no-reply by accident (a file truncated mid-write, say).
  if (bytes.empty()) throw std::runtime_error(path + ": the file is empty");
  return bytes;
}

std::shared_ptr<const RuleSet> load_rules_file(const std::string& path,
                                               const TextEncoding& encoding) {
  return std::make_shared<const RuleSet>(RuleSet::load(path, encoding));
}

}  // namespace tcp_server
