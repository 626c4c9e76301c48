#include "tcp_server/log_encoder.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tcp_server {
namespace {

using namespace std::chrono_literals;

template <typename Encode>
std::string encoded(LogFormat format, Encode encode) {
  const auto encoder = make_log_encoder(format);
  LogLine line;
  encode(*encoder, line);
  return fmt::to_string(line);
}

TEST(LogEncoder, TextLinesReadAsTheReadmeShowsThem) {
  const auto text = [](auto encode) { return encoded(LogFormat::kText, encode); };
  EXPECT_EQ(text([](const LogEncoder& e, LogLine& l) {
              e.listening(l, "[::]:9090", false, 16256, "kernel.pid_max");
            }),
            "listening on [::]:9090 (max 16256 connections, bounded by kernel.pid_max)");
  EXPECT_EQ(text([](const LogEncoder& e, LogLine& l) { e.listening(l, "[::]:9090", true, 5, ""); }),
            "listening on [::]:9090 (inherited socket) (max 5 connections)");
  EXPECT_EQ(text([](const LogEncoder& e, LogLine& l) { e.connected(l, 7, "127.0.0.1:51528"); }),
            "127.0.0.1:51528 connected");
  EXPECT_EQ(
      text([](const LogEncoder& e, LogLine& l) { e.message(l, 7, "127.0.0.1:51528", "hello"); }),
      "127.0.0.1:51528 hello");
  EXPECT_EQ(
      text([](const LogEncoder& e, LogLine& l) {
        e.disconnected(l, {7, "127.0.0.1:51528", 3200ms, 3, 18, CloseReason::kPeerClosed, ""});
      }),
      "127.0.0.1:51528 disconnected after 3.2 s, 3 messages, 18 bytes in (peer closed)");
  EXPECT_EQ(text([](const LogEncoder& e, LogLine& l) {
              e.disconnected(l, {7, "p", 4ms, 1, 2, CloseReason::kShutdown, "reply not delivered"});
            }),
            "p disconnected after 0.004 s, 1 message, 2 bytes in (shutdown: reply not delivered)");
  EXPECT_EQ(text([](const LogEncoder& e, LogLine& l) {
              e.rejected(l, "10.0.0.1:5000", RejectReason::kDenied, "10.0.0.0/8");
            }),
            "10.0.0.1:5000 rejected: denied (10.0.0.0/8)");
  EXPECT_EQ(text([](const LogEncoder& e, LogLine& l) {
              e.rejections_not_logged(l, RejectReason::kDenied, 340, {"a:1", "b:2"});
            }),
            "rejected: denied: 340 more not logged (e.g. a:1, b:2, ...)");
  EXPECT_EQ(text([](const LogEncoder& e, LogLine& l) {
              e.accept_failing(l, "Too many open files", 40ms, 3);
            }),
            "accept failed: Too many open files; existing clients are still served, retrying in "
            "40 ms (3 more failures since the last line)");
  EXPECT_EQ(text([](const LogEncoder& e, LogLine& l) { e.note(l, "signal", "received SIGTERM"); }),
            "received SIGTERM");
}

TEST(LogEncoder, JsonLinesAreTheMembersOfOneObject) {
  const auto json = [](auto encode) { return encoded(LogFormat::kJson, encode); };
  EXPECT_EQ(json([](const LogEncoder& e, LogLine& l) { e.message(l, 7, "1.2.3.4:5", "a\"b"); }),
            R"("event":"message","conn":7,"peer":"1.2.3.4:5","payload":"a\"b")");
  EXPECT_EQ(json([](const LogEncoder& e, LogLine& l) {
              e.disconnected(l, {7, "p", 1234ms, 2, 9, CloseReason::kReset, ""});
            }),
            R"("event":"disconnected","conn":7,"peer":"p","duration_s":1.234,"messages":2,)"
            R"("bytes_in":9,"reason":"reset","note":"")");
  EXPECT_EQ(
      json([](const LogEncoder& e, LogLine& l) {
        e.rejections_not_logged(l, RejectReason::kDenied, 3, {"a:1", "b:2"});
      }),
      R"("event":"rejected_suppressed","reason":"denied","count":3,"examples":["a:1","b:2"])");
  EXPECT_EQ(json([](const LogEncoder& e, LogLine& l) { e.listening(l, "[::]:1", false, 9, ""); }),
            R"("event":"listening","address":"[::]:1","inherited":false,"max_connections":9,)"
            R"("bounded_by":"--max-connections")");
  StatsSnapshot snapshot;
  snapshot.active = 1;
  snapshot.messages = 5;
  snapshot.messages_sent = 4;
  snapshot.rejected[static_cast<std::size_t>(RejectReason::kDenied)] = 2;
  const std::string stats =
      json([&](const LogEncoder& e, LogLine& l) { e.stats(l, "stats", snapshot); });
  EXPECT_EQ(stats.find(R"("event":"stats","label":"stats","active":1,)"), 0u) << stats;
  EXPECT_NE(stats.find(R"("denied":2)"), std::string::npos) << stats;
  EXPECT_NE(stats.find(R"("messages":5,"messages_sent":4,)"), std::string::npos) << stats;
  EXPECT_EQ(stats.back(), '}');
  EXPECT_EQ(json([](const LogEncoder& e, LogLine& l) { e.note(l, "signal", "x"); }),
            R"("event":"signal","message":"x")");
}

TEST(FormatDuration, ShortAndWithOneDecimalFromASecondOn) {
  EXPECT_EQ(format_duration(4ms), "0.004 s");
  EXPECT_EQ(format_duration(999ms), "0.999 s");
  EXPECT_EQ(format_duration(3200ms), "3.2 s");
  EXPECT_EQ(format_duration(3249ms), "3.2 s");
  EXPECT_EQ(format_duration(3250ms), "3.3 s");
  EXPECT_EQ(format_duration(125s), "125 s");
  EXPECT_EQ(format_duration(-5ms), "0.000 s");
}

}  // namespace
}  // namespace tcp_server
