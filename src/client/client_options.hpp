#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tcp_server/endpoint.hpp"
#include "tcp_server/text_encoding.hpp"

// Plain option structs for the three tcp_client commands; tests build them directly.
namespace tcp_server::client {

using namespace std::chrono_literals;

struct Target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9090;
};

// The first address host resolves to (numeric literals need no lookup). Throws
// std::system_error saying which host could not be resolved.
Endpoint resolve_target(const Target& target);

// TLS for every command (tls_client.hpp does the work). Verification: the CA file (or the
// system's trust store) and the server name by default; a pin instead of both; or none.
struct TlsClientOptions {
  bool enabled = false;
  std::string ca_file;      // empty: the system's trust store
  bool insecure = false;    // no verification at all
  std::string server_name;  // SNI and the name verified; empty: the target's host
  std::string cert_file;    // client certificate (mutual TLS), with key_file
  std::string key_file;
  std::string pin;      // SHA-256 of the server certificate's DER, as typed; replaces CA checks
  bool resume = false;  // bench: offer the previous connection's session (ticket)
};

// How a reply ends: at a newline (tcp_server's line framing, netcat-style servers) or with
// whatever one read returns (chunk framing, the tutorial's server).
enum class ReplyFraming { kLine, kChunk };

struct SendOptions {
  Target target;
  std::size_t clients = 1;
  std::size_t count = 1;
  // Template ({id}, {n}) in the server's encoding: escapes decoded, text encoded
  // (encode_message_template does both).
  std::string message = "hello";
  bool append_newline = true;
  ReplyFraming reply_framing = ReplyFraming::kLine;
  std::chrono::milliseconds timeout = 5s;  // connect, and each reply
  TextEncoding encoding;                   // the server's: replies are decoded from it for display
  TlsClientOptions tls;
};

struct ChatOptions {
  Target target;
  std::chrono::milliseconds timeout = 5s;  // connect, and the wait for the close after EOF
  TlsClientOptions tls;
};

enum class BenchMode { kPingpong, kChurn, kHold };

struct BenchOptions {
  Target target;
  BenchMode mode = BenchMode::kPingpong;
  std::size_t connections = 50;               // pingpong and hold
  std::size_t pipeline = 1;                   // pingpong: requests in flight per connection
  std::size_t concurrency = 50;               // churn: connections being made at once
  std::size_t threads = 1;                    // event loops
  std::chrono::milliseconds duration = 10s;   // pingpong and churn
  std::chrono::milliseconds hold_time = 10s;  // hold: how long connections stay idle
  std::chrono::milliseconds timeout = 5s;     // connect, and each reply
  std::string message = "hello\n";
  std::string expect = "ok\n";
  bool json = false;
  bool progress = true;  // a line per second on stderr, for runs longer than 3 s
  TlsClientOptions tls;
};

}  // namespace tcp_server::client
