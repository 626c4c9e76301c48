#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace tcp_server {

// The reload seam: what SIGHUP re-reads while the server keeps serving.
//
// Each part that can be reloaded (the --log-file, the --allow-file/--deny-file rules, the TLS
// certificate, and next --reply-file, --rules) is one Reloadable: a name and a function that
// re-reads its source and swaps the new state in. On SIGHUP the supervisor runs every part in
// the order added and logs one line per part ("reload: access rules: 3 allow, 2 deny networks",
// or "reload failed: access rules: deny.txt:3: ...; the old rules stay"). A part that fails never
// stops the others, the server or any connection.
//
// Writing one (see src/app/reloads.cpp, where the process's parts are listed):
//  - Prepare everything first (open, read, parse, validate) and only then swap, so that any
//    failure leaves the old state whole. Return ReloadResult::failed() saying what failed, with
//    the file and line where it applies; throwing works too (what() becomes the detail).
//  - Swap with one atomic step that new users pick up: an immutable snapshot behind a
//    shared_ptr (see LiveAccessRules), read once per connection or handshake, never per message.
//    Users that hold the old snapshot keep it: connections already open are left alone.
//  - Say what is now in force, with counts, in the detail of ReloadResult::reloaded().
//  - It runs on the signal thread (never concurrently with another reload), possibly while the
//    server drains; it must not wait on clients or on room in the log.
struct ReloadResult {
  bool ok = true;
  // What is now in force ("reopened /var/log/tcp_server.log"), or why the reload failed and
  // what is kept.
  std::string detail;

  static ReloadResult reloaded(std::string detail) { return {true, std::move(detail)}; }
  static ReloadResult failed(std::string detail) { return {false, std::move(detail)}; }
};

struct Reloadable {
  std::string name;  // as the log calls it: "log file", "access rules", "TLS certificate"
  std::function<ReloadResult()> reload;
};

// One part's result, for the log.
struct ReloadOutcome {
  std::string name;
  ReloadResult result;
};

// The parts SIGHUP reloads. Not thread safe: filled before the signal loop starts, then used
// by that loop only.
class Reloader {
 public:
  void add(Reloadable part) { parts_.push_back(std::move(part)); }
  [[nodiscard]] bool empty() const noexcept { return parts_.empty(); }

  // Reloads every part, in the order added; an exception from one becomes its failure and the
  // others still run.
  [[nodiscard]] std::vector<ReloadOutcome> reload_all() const;

 private:
  std::vector<Reloadable> parts_;
};

// The log line for one outcome: "reload: log file: reopened /var/log/x.log" or
// "reload failed: access rules: deny.txt:3: ...". Control bytes in the detail (it may quote a
// file's text) are escaped.
std::string format_reload_outcome(const ReloadOutcome& outcome);

}  // namespace tcp_server
