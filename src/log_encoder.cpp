#include "tcp_server/log_encoder.hpp"

#include <algorithm>
#include <iterator>

namespace tcp_server {
namespace {

// Durations use integer arithmetic rather than fmt's floating point: every client thread
// formats one when it disconnects, and fmt's float path is deep enough to touch another stack
// page per thread (about 4 KiB of RSS each for 10,000 threads closing at once).
std::int64_t whole_milliseconds(std::chrono::steady_clock::duration duration) {
  return std::max<std::int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(duration).count(), 0);
}

template <typename... Args>
void put(LogLine& out, fmt::format_string<Args...> format, Args&&... args) {
  fmt::format_to(std::back_inserter(out), format, std::forward<Args>(args)...);
}

class TextLogEncoder final : public LogEncoder {
 public:
  const char* pattern() const override { return kTextLogPattern; }

  void listening(LogLine& out, std::string_view address, bool inherited,
                 std::size_t max_connections, std::string_view bounded_by,
                 std::string_view tls_fingerprint) const override {
    put(out, "listening on {}{}{}{} (max {} connections{}{})", address,
        inherited ? " (inherited socket)" : "",
        tls_fingerprint.empty() ? "" : " tls, certificate SHA-256 ", tls_fingerprint,
        max_connections, bounded_by.empty() ? "" : ", bounded by ", bounded_by);
  }

  void connected(LogLine& out, std::uint64_t, std::string_view peer,
                 const PeerIdentity& certificate) const override {
    put(out, "{} connected", peer);
    if (certificate.empty()) return;
    put(out, " (client certificate CN={}{}{})", certificate.common_name,
        certificate.first_san.empty() ? "" : ", SAN ", certificate.first_san);
  }

  void message(LogLine& out, std::uint64_t, std::string_view peer,
               std::string_view payload) const override {
    put(out, "{} {}", peer, payload);
  }

  void disconnected(LogLine& out, const Disconnection& event) const override {
    put(out, "{} disconnected after {}, {} message{}, {} bytes in ({}{}{})", event.peer,
        format_duration(event.lifetime), event.messages, event.messages == 1 ? "" : "s",
        event.bytes_in, to_string(event.reason), event.note.empty() ? "" : ": ", event.note);
  }

  void reply_dropped(LogLine& out, std::uint64_t, std::string_view peer, std::uint64_t message,
                     std::string_view why) const override {
    put(out, "{} message {}: reply dropped ({})", peer, message, why);
  }

  void rejected(LogLine& out, std::string_view peer, RejectReason reason,
                std::string_view detail) const override {
    put(out, "{} rejected: {} ({})", peer, to_string(reason), detail);
  }

  void rejections_not_logged(LogLine& out, RejectReason reason, std::uint64_t count,
                             const std::vector<std::string>& examples) const override {
    put(out, "rejected: {}: {} more not logged (e.g. {}{})", to_string(reason), count,
        fmt::join(examples, ", "), count > examples.size() ? ", ..." : "");
  }

  void accept_failing(LogLine& out, std::string_view error, std::chrono::milliseconds retry_in,
                      std::uint64_t suppressed) const override {
    put(out, "accept failed: {}; existing clients are still served, retrying in {} ms", error,
        retry_in.count());
    if (suppressed > 0) put(out, " ({} more failures since the last line)", suppressed);
  }

  void stats(LogLine& out, std::string_view label, const StatsSnapshot& snapshot) const override {
    put(out, "{}: {}", label, format_stats(snapshot));
  }

  void note(LogLine& out, std::string_view, std::string_view text) const override {
    put(out, "{}", text);
  }
};

class JsonLogEncoder final : public LogEncoder {
 public:
  explicit JsonLogEncoder(bool hex_payloads)
      : payload_field_(hex_payloads ? "payload_hex" : "payload") {}

  const char* pattern() const override { return kJsonLogPattern; }

  void listening(LogLine& out, std::string_view address, bool inherited,
                 std::size_t max_connections, std::string_view bounded_by,
                 std::string_view tls_fingerprint) const override {
    put(out,
        R"("event":"listening","address":{},"inherited":{},"max_connections":{},)"
        R"("bounded_by":{})",
        json_quote(address), inherited, max_connections,
        json_quote(bounded_by.empty() ? "--max-connections" : bounded_by));
    if (!tls_fingerprint.empty()) {
      put(out, R"(,"tls":true,"cert_sha256":{})", json_quote(tls_fingerprint));
    }
  }

  void connected(LogLine& out, std::uint64_t conn, std::string_view peer,
                 const PeerIdentity& certificate) const override {
    put(out, R"("event":"connected","conn":{},"peer":{})", conn, json_quote(peer));
    if (certificate.empty()) return;
    put(out, R"(,"cert_cn":{},"cert_san":{})", json_quote(certificate.common_name),
        json_quote(certificate.first_san));
  }

  void message(LogLine& out, std::uint64_t conn, std::string_view peer,
               std::string_view payload) const override {
    put(out, R"("event":"message","conn":{},"peer":{},"{}":{})", conn, json_quote(peer),
        payload_field_, json_quote(payload));
  }

  void disconnected(LogLine& out, const Disconnection& event) const override {
    const std::int64_t ms = whole_milliseconds(event.lifetime);
    put(out,
        R"("event":"disconnected","conn":{},"peer":{},"duration_s":{}.{:03},"messages":{},)"
        R"("bytes_in":{},"reason":{},"note":{})",
        event.conn, json_quote(event.peer), ms / 1000, ms % 1000, event.messages, event.bytes_in,
        json_quote(to_string(event.reason)), json_quote(event.note));
  }

  void reply_dropped(LogLine& out, std::uint64_t conn, std::string_view peer, std::uint64_t message,
                     std::string_view why) const override {
    put(out, R"("event":"reply_dropped","conn":{},"peer":{},"message":{},"why":{})", conn,
        json_quote(peer), message, json_quote(why));
  }

  void rejected(LogLine& out, std::string_view peer, RejectReason reason,
                std::string_view detail) const override {
    put(out, R"("event":"rejected","peer":{},"reason":{},"detail":{})", json_quote(peer),
        json_quote(to_string(reason)), json_quote(detail));
  }

  void rejections_not_logged(LogLine& out, RejectReason reason, std::uint64_t count,
                             const std::vector<std::string>& examples) const override {
    put(out, R"("event":"rejected_suppressed","reason":{},"count":{},"examples":[)",
        json_quote(to_string(reason)), count);
    for (std::size_t i = 0; i < examples.size(); ++i) {
      put(out, "{}{}", i == 0 ? "" : ",", json_quote(examples[i]));
    }
    put(out, "]");
  }

  void accept_failing(LogLine& out, std::string_view error, std::chrono::milliseconds retry_in,
                      std::uint64_t suppressed) const override {
    put(out, R"("event":"accept_failing","error":{},"retry_ms":{},"suppressed":{})",
        json_quote(error), retry_in.count(), suppressed);
  }

  void stats(LogLine& out, std::string_view label, const StatsSnapshot& snapshot) const override {
    put(out,
        R"("event":"stats","label":{},"active":{},"accepted":{},"served":{},"messages":{},)"
        R"("messages_sent":{},"bytes_in":{},"bytes_out":{},"rejected":{{)",
        json_quote(label), snapshot.active, snapshot.accepted, snapshot.served, snapshot.messages,
        snapshot.messages_sent, snapshot.bytes_in, snapshot.bytes_out);
    for (std::size_t i = 0; i < snapshot.rejected.size(); ++i) {
      put(out, "{}{}:{}", i == 0 ? "" : ",", json_quote(to_string(static_cast<RejectReason>(i))),
          snapshot.rejected[i]);
    }
    put(out, "}}");
  }

  void note(LogLine& out, std::string_view event, std::string_view text) const override {
    put(out, R"("event":{},"message":{})", json_quote(event), json_quote(text));
  }

 private:
  const char* payload_field_;
};

}  // namespace

std::unique_ptr<LogEncoder> make_log_encoder(LogFormat format, bool hex_payloads) {
  if (format == LogFormat::kJson) return std::make_unique<JsonLogEncoder>(hex_payloads);
  return std::make_unique<TextLogEncoder>();
}

std::string format_duration(std::chrono::steady_clock::duration duration) {
  const std::int64_t ms = whole_milliseconds(duration);
  if (ms < 1000) return fmt::format("0.{:03} s", ms);
  if (ms < 100'000) return fmt::format("{}.{} s", (ms + 50) / 1000, (ms + 50) % 1000 / 100);
  return fmt::format("{} s", (ms + 500) / 1000);
}

}  // namespace tcp_server
