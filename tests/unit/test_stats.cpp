#include "tcp_server/stats.hpp"

#include <gtest/gtest.h>

using tcp_server::RejectReason;
using tcp_server::ServerStats;

TEST(FormatStats, ListsCountersAndOnlyNonZeroRejectReasons) {
  ServerStats stats;
  stats.on_accepted();
  stats.on_accepted();
  stats.on_message();
  stats.on_bytes_in(10);
  stats.on_bytes_out(3);
  stats.on_messages_sent(1);
  stats.on_rejected(RejectReason::kPerIpLimit);
  auto snapshot = stats.snapshot();
  snapshot.active = 1;
  EXPECT_EQ(tcp_server::format_stats(snapshot),
            "active 1, accepted 2, served 0, messages 1, messages sent 1, bytes in 10 out 3, "
            "rejected 1 "
            "(per-ip-limit 1)");
}

TEST(FormatStats, NoReasonListWhenNothingWasRejected) {
  const ServerStats stats;
  EXPECT_EQ(tcp_server::format_stats(stats.snapshot()),
            "active 0, accepted 0, served 0, messages 0, messages sent 0, bytes in 0 out 0, "
            "rejected 0");
}
