#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tcp_server/byte_stream.hpp"
#include "tcp_server/log_format.hpp"
#include "tcp_server/stats.hpp"

namespace tcp_server {

// The message of one log line: what follows "date time level " in text, or the members after
// "level" in JSON (see kTextLogPattern, kJsonLogPattern).
using LogLine = fmt::memory_buffer;

struct Disconnection {
  std::uint64_t conn = 0;
  std::string_view peer;
  std::chrono::steady_clock::duration lifetime{};
  std::uint64_t messages = 0;
  std::uint64_t bytes_in = 0;
  CloseReason reason = CloseReason::kPeerClosed;
  std::string_view note;
};

// How each event the server logs is written: text for people, JSON for log shippers. One is
// chosen at start (make_log_encoder); the events and their wording live here and only here, so
// the two forms stay in step. Text is greppable; JSON is one object per line, with conn the
// connection's number. Arguments are already safe to log (escaped payloads, peer addresses,
// our own words); encoders only quote. Pure and stateless: thread safe.
class LogEncoder {
 public:
  virtual ~LogEncoder() = default;

  // The spdlog pattern the messages go in.
  [[nodiscard]] virtual const char* pattern() const = 0;

  // bounded_by: what the derived connection limit comes from; empty when it was given.
  // tls_fingerprint: the certificate's SHA-256 when the port speaks TLS; empty when plain.
  virtual void listening(LogLine& out, std::string_view address, bool inherited,
                         std::size_t max_connections, std::string_view bounded_by,
                         std::string_view tls_fingerprint = {}) const = 0;
  // certificate: the client certificate's subject, when it gave one (TLS).
  virtual void connected(LogLine& out, std::uint64_t conn, std::string_view peer,
                         const PeerIdentity& certificate = {}) const = 0;
  virtual void message(LogLine& out, std::uint64_t conn, std::string_view peer,
                       std::string_view payload) const = 0;
  virtual void disconnected(LogLine& out, const Disconnection& event) const = 0;
  // The reply to message number `message` was withheld on purpose; why: our own words.
  virtual void reply_dropped(LogLine& out, std::uint64_t conn, std::string_view peer,
                             std::uint64_t message, std::string_view why) const = 0;
  virtual void rejected(LogLine& out, std::string_view peer, RejectReason reason,
                        std::string_view detail) const = 0;
  // Rejections the throttle did not log one by one: how many, and the first few peers.
  virtual void rejections_not_logged(LogLine& out, RejectReason reason, std::uint64_t count,
                                     const std::vector<std::string>& examples) const = 0;
  // suppressed: failures since the last such line.
  virtual void accept_failing(LogLine& out, std::string_view error,
                              std::chrono::milliseconds retry_in,
                              std::uint64_t suppressed) const = 0;
  virtual void stats(LogLine& out, std::string_view label, const StatsSnapshot& snapshot) const = 0;
  // Events without fields of their own ("stopping", "signal", "error", ...): text is the line.
  virtual void note(LogLine& out, std::string_view event, std::string_view text) const = 0;
};

// hex_payloads (--log-hex): message()'s payload is hex (PayloadStyle::kHex), which JSON names
// "payload_hex" instead of "payload"; a text dump needs nothing of the text encoder.
std::unique_ptr<LogEncoder> make_log_encoder(LogFormat format, bool hex_payloads = false);

// "3.2 s", "0.004 s", "125 s": short, one decimal from a second on.
std::string format_duration(std::chrono::steady_clock::duration duration);

}  // namespace tcp_server
