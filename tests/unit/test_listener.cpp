#include "tcp_server/listener.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>

#include "tcp_server/socket.hpp"

namespace tcp_server {
namespace {

TEST(ClassifyAcceptError, PerConnectionFailuresAreRetried) {
  for (const int error : {EINTR, ECONNABORTED, EPROTO, EPERM, ENETUNREACH, ETIMEDOUT}) {
    EXPECT_EQ(classify_accept_error(errno_code(error)), AcceptErrorAction::kRetry) << error;
  }
}

TEST(ClassifyAcceptError, ResourceExhaustionBacksOffInsteadOfSpinning) {
  for (const int error : {EMFILE, ENFILE, ENOBUFS, ENOMEM}) {
    EXPECT_EQ(classify_accept_error(errno_code(error)), AcceptErrorAction::kBackOff) << error;
  }
}

TEST(ClassifyAcceptError, EmptyQueueWaitsAndABrokenListenerStops) {
  EXPECT_EQ(classify_accept_error(errno_code(EAGAIN)), AcceptErrorAction::kWait);
  for (const int error : {EBADF, EINVAL, ENOTSOCK}) {
    EXPECT_EQ(classify_accept_error(errno_code(error)), AcceptErrorAction::kStop) << error;
  }
}

TEST(Listener, AdoptRefusesASocketThatIsNotListening) {
  UniqueFd unconnected(::socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_THROW(Listener::adopt(std::move(unconnected)), std::system_error);
}

TEST(Listener, AdoptTakesOverAnInheritedListeningSocket) {
  ListenOptions options{.host = "127.0.0.1", .port = 0};
  Listener original = Listener::open(options);
  const Endpoint bound = original.local_endpoint();
  UniqueFd duplicate(::dup(original.fd()));
  const Listener adopted = Listener::adopt(std::move(duplicate));
  EXPECT_TRUE(adopted.inherited());
  EXPECT_EQ(adopted.local_endpoint(), bound);
}

TEST(Endpoint, MappedIpv4IsStoredAsPlainIpv4) {
  const auto mapped = Endpoint::from_ip("::ffff:10.1.2.3", 80);
  ASSERT_TRUE(mapped.has_value());
  EXPECT_TRUE(mapped->is_v4());
  EXPECT_EQ(mapped->to_string(), "10.1.2.3:80");
  EXPECT_EQ(Endpoint::from_ip("[::1]", 9)->to_string(), "[::1]:9");
  EXPECT_FALSE(Endpoint::from_ip("localhost", 1).has_value());
}

}  // namespace
}  // namespace tcp_server
