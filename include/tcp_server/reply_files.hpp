#pragma once

#include <memory>
#include <string>

#include "tcp_server/rules.hpp"
#include "tcp_server/text_encoding.hpp"

namespace tcp_server {

// The files behind the answers, read the same way at start (the command line) and on SIGHUP,
// so that a file the server starts with is one it reloads, and the other way round.

// --reply-file: the file's bytes, exactly (no escapes, no encoding, no newline added). Throws
// std::runtime_error "path: reason" when it cannot be read or is empty.
std::string read_reply_file(const std::string& path);

// --rules: RuleSet::load with the clients' encoding. Throws std::runtime_error "path:line:
// reason" (or "path: reason" when it cannot be read).
std::shared_ptr<const RuleSet> load_rules_file(const std::string& path,
                                               const TextEncoding& encoding);

}  // namespace tcp_server
