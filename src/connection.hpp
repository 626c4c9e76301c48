#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "admission.hpp"
#include "lifetime_watch.hpp"
#include "registration.hpp"
#include "tcp_server/byte_stream.hpp"
#include "tcp_server/config.hpp"
#include "tcp_server/endpoint.hpp"
#include "tcp_server/framing.hpp"
#include "tcp_server/live_responder.hpp"
#include "tcp_server/log_format.hpp"
#include "tcp_server/responder.hpp"
#include "tcp_server/stats.hpp"
#include "wakeable_wait.hpp"

namespace tcp_server {

class ServerLog;

// What a connection uses that every connection of one server shares; outlives all of them.
struct ConnectionServices {
  const ServerConfig& config;      // framing, limits, timeouts, payload logging, PROXY protocol
  const LiveResponder& responder;  // each connection takes the one current when it is created
  const Admission& admission;
  ServerLog& log;
  ServerStats& stats;
  LifetimeWatch* lifetimes = nullptr;  // with --max-lifetime
};

// One client, served by one thread from accept to close. serve() is that thread's whole job;
// request_drain() and shut_down() are called by the registry, under its lock, from other threads.
class Connection final : public Drainable, public Expirable {
 public:
  // id numbers the connection in the log ("conn" in JSON).
  Connection(std::unique_ptr<ByteStream> stream, Endpoint peer, std::uint64_t id,
             const ConnectionServices& services);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Its place in the registry: held until the connection closes, left just before.
  void enroll(Registration registration) noexcept { registration_ = std::move(registration); }

  // Reads, logs and answers until the peer closes, a deadline passes or the server stops. Never
  // throws. Leaves the registry before closing the stream.
  void serve() noexcept;

  // Drain: finish the message in progress, then close; an idle connection is closed now (its
  // read side shut down, which wakes its thread out of recv()).
  void request_drain() noexcept override;
  // The drain's deadline: wakes the thread out of recv() (SHUT_RD) or send() too (SHUT_RDWR);
  // an unfinished line is dropped.
  void shut_down(int how) noexcept override;
  // --max-lifetime is up: like the deadline's shut_down(SHUT_RDWR), with a reason of its own.
  void expire() noexcept override;
  // For the accept loop, instead of serve(): a client that will not be served (no thread could
  // be had for it) is refused (Admission::refuse).
  void refuse(RejectReason reason, std::string_view detail) noexcept;

 private:
  struct Outcome {
    CloseReason reason = CloseReason::kPeerClosed;
    std::string note;
  };

  // The PROXY header, access rules, --max-per-ip and the stream's start (the TLS handshake); a
  // refusal when the client is turned away.
  std::optional<Refusal> admit();
  Outcome serve_messages();
  // Frames, logs and answers received bytes; false when the connection ends (outcome says why):
  // the framer may still point into bytes.
  bool process(std::string_view bytes, bool line_framing, Outcome& outcome);
  // Logs one message and queues its answer, sending the queue once it is large; false when the
  // connection ends (outcome says why).
  bool handle_message(std::string_view payload, std::size_t dropped_bytes, Outcome& outcome);
  // Carries out the responder's answer: queued (kReply), or delivered at once (send_now).
  bool act(const Response& response, bool send_now, Outcome& outcome);
  bool flush_replies(Outcome& outcome);
  // Sends bytes, which carry replies (messages) replies, and counts both once sent.
  bool deliver(std::string_view bytes, std::uint64_t replies, Outcome& outcome);
  // After the drain's deadline (or --max-lifetime) shut the socket down; note when it was not.
  Outcome shut_down_outcome(std::string_view note = {}) const;
  Outcome receive_error(std::error_code error) const;
  Outcome delivery_error(std::error_code error) const;
  void finish(const Outcome& outcome) noexcept;

  std::string first_bytes_;  // received after a PROXY header: the start of the first message
  std::uint64_t id_;
  const std::unique_ptr<ByteStream> stream_;
  Registration registration_;
  LifetimeWatch::Handle lifetime_;  // with --max-lifetime; reset before the stream closes
  const Endpoint peer_;
  Endpoint client_;          // the real client: peer_, or what a PROXY header says
  std::string client_text_;  // client_.to_string(), computed once for every log line
  const ConnectionServices& services_;
  const std::chrono::steady_clock::time_point started_;

  // The responder as it was when this connection was created: a SIGHUP that replaces it
  // (--reply-file, --rules) leaves this connection answering as it started. Before session_,
  // which points into it.
  const std::shared_ptr<const Responder> responder_;
  ResponderSession session_;
  // --delay (or a rule's !delay) waits here; the drain, its deadline and expire() wake it. Only
  // when the responder may delay (Responder::may_delay): 90 bytes a connection otherwise.
  const std::unique_ptr<WakeableWait> pause_;
  LineFramer framer_;
  PayloadFormatter formatter_;
  std::string display_;       // reused: the payload as the log shows it
  LargeBlockString replies_;  // reused: acks waiting to be sent, at most about 16 KiB
  std::uint64_t messages_ = 0;
  std::uint64_t replies_queued_ = 0;  // replies in replies_, counted in the stats once sent
  std::uint64_t bytes_in_ = 0;

  // Shared with the registry's drain (sequentially consistent: see request_drain()).
  std::atomic<bool> idle_{false};
  std::atomic<bool> draining_{false};
  // Set before the shutdown(2) it names: the drain's, of an idle connection (SHUT_RD, which a line
  // that raced it may outlive: see serve_messages()), or the deadline's (shut_down()).
  std::atomic<bool> drain_shut_down_{false};
  std::atomic<bool> forced_shut_down_{false};
  std::atomic<bool> expired_{false};  // set by expire(), before its shutdown(2)
};

}  // namespace tcp_server
