#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "tcp_server/access_rules.hpp"

namespace tcp_server {

// Where the access rules come from: networks given on the command line (--allow, --deny), which
// stay as they are, and files (--allow-file, --deny-file), read at start and again on each
// reload (SIGHUP).
struct AccessRuleSources {
  AccessRules fixed;
  std::vector<std::string> allow_files;
  std::vector<std::string> deny_files;

  [[nodiscard]] bool has_files() const noexcept {
    return !allow_files.empty() || !deny_files.empty();
  }
};

// A list file that cannot be read or has a bad entry. what() names the file, and the line
// where there is one: "deny.txt:3: 'x' is not an IPv4 or IPv6 address or network", or
// "cannot read deny.txt: No such file or directory".
class AccessRuleFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The networks in one list file (parse_cidr_list's format). Throws AccessRuleFileError.
std::vector<Cidr> read_cidr_file(const std::string& path);

// Appends the networks of each file in paths, in order. Throws AccessRuleFileError.
void append_cidr_files(const std::vector<std::string>& paths, std::vector<Cidr>& networks);

// The fixed rules followed by every file's networks, files in order. Throws
// AccessRuleFileError at the first file that cannot be read or parsed.
AccessRules load_access_rules(const AccessRuleSources& sources);

// "2 allow and 3 deny networks", for the log.
std::string describe_access_rules(const AccessRules& rules);

}  // namespace tcp_server
