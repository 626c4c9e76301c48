#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tcp_server/access_rules.hpp"
#include "tcp_server/framing.hpp"
#include "tcp_server/listener.hpp"
#include "tcp_server/log_format.hpp"
#include "tcp_server/proxy_protocol.hpp"
#include "tcp_server/socket.hpp"
#include "tcp_server/testing_settings.hpp"
#include "tcp_server/text_encoding.hpp"
#include "tcp_server/tls_settings.hpp"

namespace tcp_server {

enum class ReplyMode {
  kAck,   // answer each message with the reply text
  kEcho,  // send back exactly the bytes received (RFC 862)
};

enum class OverflowPolicy {
  kReject,  // accept, send the reject message (if any), close
  kDefer,   // stop accepting; the kernel backlog queues new clients in arrival order
};

// Everything the server needs to run, as plain data: tests build it with designated
// initializers, the CLI fills it from argv. Durations of zero mean "off".
struct ServerConfig {
  ListenOptions listen;

  ReplyMode mode = ReplyMode::kAck;
  // Bytes as sent, in `encoding`: the CLI decodes the escapes and encodes the text
  // (encode_reply_text), once, at start. reject_message likewise.
  std::string reply = "ok";
  Framing framing = Framing::kLine;
  std::size_t max_line = 64 * 1024;

  bool log_payloads = true;
  std::size_t log_payload_max = 256;  // input bytes of a payload shown in one log line
  TextEncoding encoding;  // the clients' (--encoding): payloads are decoded from it for the log
  bool log_hex = false;   // --log-hex: payloads logged as hex (see PayloadStyle)

  std::size_t max_connections = 0;  // 0: derived at start (connection_ceiling())
  std::size_t max_per_ip = 0;       // 0: no per-address limit
  OverflowPolicy overflow = OverflowPolicy::kReject;
  std::string reject_message;  // bytes sent to a refused client before closing; may be empty

  std::chrono::milliseconds idle_timeout{0};
  std::chrono::milliseconds send_timeout{std::chrono::seconds(30)};
  KeepaliveSettings keepalive;
  bool no_delay = true;
  std::size_t thread_stack = 256 * 1024;

  std::chrono::milliseconds drain_timeout{std::chrono::seconds(5)};
  AccessRules access;  // --allow / --deny, on the client's address
  LogFormat log_format = LogFormat::kText;
  // PROXY protocol: when not kNone, every client must come from a trusted proxy and start with
  // a header naming the real client, within proxy_header_timeout.
  ProxyVersions proxy_protocol = ProxyVersions::kNone;
  std::vector<Cidr> trusted_proxies;
  std::chrono::milliseconds proxy_header_timeout{std::chrono::seconds(5)};
  // TLS on every connection (after any PROXY header) when tls.enabled().
  TlsSettings tls;

  // --pcap: every connection's bytes written to this file as TCP segments; empty: off.
  std::string pcap_file;
  std::uint64_t pcap_max_size = 0;  // bytes; 0: no limit

  TestingSettings testing;  // delays, faults, banner: the "Testing" options

  // Problems with the values, one sentence each, naming the option; empty when usable.
  [[nodiscard]] std::vector<std::string> validate() const;
};

}  // namespace tcp_server
