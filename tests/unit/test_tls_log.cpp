// How TLS shows in the log: the listening line's fingerprint, a client certificate's subject in
// the connected line and event, and the refusal reason.
#include <gtest/gtest.h>

#include <string>

#include "tcp_server/log_encoder.hpp"
#include "tcp_server/stats.hpp"

namespace tcp_server {
namespace {

template <typename Encode>
std::string encoded(LogFormat format, Encode encode) {
  const auto encoder = make_log_encoder(format);
  LogLine line;
  encode(*encoder, line);
  return fmt::to_string(line);
}

const PeerIdentity kAlice{"alice", "DNS:alice.example"};

TEST(TlsLog, TextListeningAndConnectedLines) {
  EXPECT_EQ(encoded(LogFormat::kText,
                    [](const LogEncoder& e, LogLine& l) {
                      e.listening(l, "[::]:9443", false, 5, "", "AB:CD");
                    }),
            "listening on [::]:9443 tls, certificate SHA-256 AB:CD (max 5 connections)");
  EXPECT_EQ(encoded(LogFormat::kText, [](const LogEncoder& e,
                                         LogLine& l) { e.connected(l, 3, "1.2.3.4:5", kAlice); }),
            "1.2.3.4:5 connected (client certificate CN=alice, SAN DNS:alice.example)");
  EXPECT_EQ(encoded(LogFormat::kText,
                    [](const LogEncoder& e, LogLine& l) {
                      e.connected(l, 3, "1.2.3.4:5", PeerIdentity{"bob", ""});
                    }),
            "1.2.3.4:5 connected (client certificate CN=bob)");
  // Without TLS, nothing changes.
  EXPECT_EQ(encoded(LogFormat::kText,
                    [](const LogEncoder& e, LogLine& l) { e.connected(l, 3, "1.2.3.4:5"); }),
            "1.2.3.4:5 connected");
  EXPECT_EQ(encoded(LogFormat::kText,
                    [](const LogEncoder& e, LogLine& l) {
                      e.rejected(l, "1.2.3.4:5", RejectReason::kTls, "plaintext HTTP request?");
                    }),
            "1.2.3.4:5 rejected: tls (plaintext HTTP request?)");
}

TEST(TlsLog, JsonEventsCarryTheFingerprintAndTheSubject) {
  EXPECT_EQ(encoded(LogFormat::kJson,
                    [](const LogEncoder& e, LogLine& l) {
                      e.listening(l, "[::]:1", false, 9, "", "AB:CD");
                    }),
            R"("event":"listening","address":"[::]:1","inherited":false,"max_connections":9,)"
            R"("bounded_by":"--max-connections","tls":true,"cert_sha256":"AB:CD")");
  EXPECT_EQ(encoded(LogFormat::kJson,
                    [](const LogEncoder& e, LogLine& l) { e.connected(l, 3, "p", kAlice); }),
            R"("event":"connected","conn":3,"peer":"p","cert_cn":"alice",)"
            R"("cert_san":"DNS:alice.example")");
  EXPECT_EQ(
      encoded(LogFormat::kJson, [](const LogEncoder& e, LogLine& l) { e.connected(l, 3, "p"); }),
      R"("event":"connected","conn":3,"peer":"p")");
}

}  // namespace
}  // namespace tcp_server
