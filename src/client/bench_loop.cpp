#include "bench_loop.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <mutex>
#include <string_view>
#include <system_error>
#include <utility>

#include "tcp_server/socket.hpp"

namespace tcp_server::client {
namespace {

// A connection refused or failed is retried after this, so a server that is down is not
// hammered in a tight loop.
constexpr std::chrono::milliseconds kRetryDelay{10};

ErrorKind kind_of(int error) {
  switch (error) {
    case ECONNREFUSED:
      return ErrorKind::kRefused;
    case ECONNRESET:
    case EPIPE:
      return ErrorKind::kReset;
    case ETIMEDOUT:
      return ErrorKind::kTimeout;
    default:
      return ErrorKind::kOther;
  }
}

void count(ErrorCounts& counts, ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kRefused:
      ++counts.refused;
      break;
    case ErrorKind::kReset:
      ++counts.reset;
      break;
    case ErrorKind::kClosed:
      ++counts.closed;
      break;
    case ErrorKind::kTimeout:
      ++counts.timeout;
      break;
    case ErrorKind::kWrongReply:
      ++counts.wrong_reply;
      break;
    case ErrorKind::kOther:
      ++counts.other;
      break;
    case ErrorKind::kTls:
      ++counts.tls;
      break;
  }
}

}  // namespace

BenchLoop::BenchLoop(const BenchOptions& options, const Endpoint& server,
                     const StreamConnector& connector, std::size_t slots,
                     const BenchLoopSettings& settings, Published& published)
    : options_(options),
      server_(server),
      connector_(connector),
      settings_(settings),
      connections_(slots),
      published_(published),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_) throw std::system_error(errno_code(errno), "epoll_create1");
  for (auto& connection : connections_) connection.sent_at.resize(settings.in_flight);
}

std::size_t BenchLoop::wait(Clock::duration timeout) {
  const auto milliseconds =
      std::chrono::duration_cast<std::chrono::milliseconds>(timeout) + std::chrono::milliseconds(1);
  const int ready = ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()),
                                 static_cast<int>(milliseconds.count()));
  if (ready >= 0) return static_cast<std::size_t>(ready);
  if (errno == EINTR) return 0;
  throw std::system_error(errno_code(errno), "epoll_wait");
}

BenchLoop::Outcome BenchLoop::handle(BenchConnection& connection, std::uint32_t events) {
  if (connection.state == BenchConnection::State::kConnecting) {
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(connection.stream->fd(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      fail(connection, kind_of(error));
      return {};
    }
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return {};
    connection.state = BenchConnection::State::kHandshaking;
    return continue_handshake(connection);
  }
  if (connection.state == BenchConnection::State::kHandshaking) {
    return continue_handshake(connection);
  }
  if (connection.state != BenchConnection::State::kOpen) return {};
  if ((events & EPOLLOUT) != 0) {
    if (!connection.unsent.empty() && !flush(connection)) return {};
    if (connection.read_wants_write) {
      connection.read_wants_write = false;
      return on_readable(connection);
    }
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) return on_readable(connection);
  return {};
}

// Plain streams are done at the first step; TLS takes a round trip or two.
BenchLoop::Outcome BenchLoop::continue_handshake(BenchConnection& connection) {
  const IoResult step = connection.stream->handshake();
  switch (step.status) {
    case IoStatus::kDone:
      break;
    case IoStatus::kWantRead:
      watch(connection, EPOLL_CTL_MOD, EPOLLIN);
      return {};
    case IoStatus::kWantWrite:
      watch(connection, EPOLL_CTL_MOD, EPOLLOUT);
      return {};
    default:
      fail(connection, step);
      return {};
  }
  --connecting_;
  connection.state = BenchConnection::State::kOpen;
  connection.watching_writable = false;
  watch(connection, EPOLL_CTL_MOD, EPOLLIN);
  if (connector_.tls() && Clock::now() <= deadline_) {
    ++result_.handshakes;
    if (connection.stream->resumed()) ++result_.resumed;
  }
  return {.kind = Outcome::Kind::kConnected, .replies = 0, .at = {}};
}

void BenchLoop::start_connect(BenchConnection& connection) {
  connection.stream.reset();
  UniqueFd fd(::socket(server_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  connection.started = Clock::now();
  replies_due_ -= connection.outstanding;
  connection.outstanding = 0;
  connection.ring_head = 0;
  connection.matched = 0;
  connection.unsent.clear();
  connection.watching_writable = false;
  connection.read_wants_write = false;
  if (!fd) return fail(connection, ErrorKind::kOther);
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd.get(), server_.sockaddr_ptr(), server_.sockaddr_length()) != 0 &&
      errno != EINPROGRESS) {
    return fail(connection, kind_of(errno));
  }
  connection.stream = connector_.wrap(std::move(fd), &sessions_);
  // Even a connect that completed at once is confirmed through EPOLLOUT: one code path.
  connection.state = BenchConnection::State::kConnecting;
  ++connecting_;
  watch(connection, EPOLL_CTL_ADD, EPOLLOUT);
}

void BenchLoop::watch(BenchConnection& connection, int operation, std::uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.ptr = &connection;
  ::epoll_ctl(epoll_.get(), operation, connection.stream->fd(), &event);
}

void BenchLoop::queue_messages(BenchConnection& connection, std::size_t how_many) {
  const auto now = Clock::now();
  for (std::size_t i = 0; i < how_many; ++i) {
    const std::size_t slot =
        (connection.ring_head + connection.outstanding) % connection.sent_at.size();
    connection.sent_at[slot] = now;
    ++connection.outstanding;
    connection.unsent += options_.message;
  }
  replies_due_ += how_many;
  flush(connection);
}

void BenchLoop::hang_up(BenchConnection& connection) {
  connection.stream.reset();
  connection.state = BenchConnection::State::kIdle;
}

void BenchLoop::count_connection() {
  ++result_.connections;
  ++unpublished_connections_;
}

// Sends what it can; false when the connection failed.
bool BenchLoop::flush(BenchConnection& connection) {
  while (!connection.unsent.empty()) {
    const IoResult sent = connection.stream->write_some(connection.unsent);
    if (sent.status == IoStatus::kWantRead || sent.status == IoStatus::kWantWrite) break;
    if (sent.status != IoStatus::kDone) {
      fail(connection, sent);
      return false;
    }
    connection.unsent.erase(0, sent.bytes);
  }
  const bool want_writable = !connection.unsent.empty();
  if (want_writable != connection.watching_writable) {
    connection.watching_writable = want_writable;
    watch(connection, EPOLL_CTL_MOD, want_writable ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
  }
  return true;
}

BenchLoop::Outcome BenchLoop::on_readable(BenchConnection& connection) {
  const IoResult received = connection.stream->read_some(buffer_);
  switch (received.status) {
    case IoStatus::kDone:
      break;
    case IoStatus::kWantRead:
      return {};
    case IoStatus::kWantWrite:
      connection.read_wants_write = true;
      connection.watching_writable = true;
      watch(connection, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
      return {};
    case IoStatus::kClosed:
      fail(connection, ErrorKind::kClosed);
      return {};
    default:
      fail(connection, received);
      return {};
  }

  const std::string_view expect = options_.expect;
  std::string_view data(buffer_.data(), received.bytes);
  std::size_t completed = 0;
  const auto now = Clock::now();
  while (!data.empty()) {
    if (connection.outstanding == 0) {
      fail(connection, ErrorKind::kWrongReply);
      return {};
    }
    const std::size_t take = std::min(data.size(), expect.size() - connection.matched);
    if (data.substr(0, take) != expect.substr(connection.matched, take)) {
      fail(connection, ErrorKind::kWrongReply);
      return {};
    }
    connection.matched += take;
    data.remove_prefix(take);
    if (connection.matched < expect.size()) break;
    connection.matched = 0;
    const auto sent = connection.sent_at[connection.ring_head];
    connection.ring_head = (connection.ring_head + 1) % connection.sent_at.size();
    --connection.outstanding;
    --replies_due_;
    ++completed;
    if (now <= deadline_) {
      const auto latency = settings_.latency_from_connect ? now - connection.started : now - sent;
      result_.latency.record(latency);
      interval_latency_.record(latency);
      ++result_.replies;
      ++unpublished_replies_;
    }
  }
  if (completed == 0) return {};
  return {.kind = Outcome::Kind::kReplies, .replies = completed, .at = now};
}

// A socket error is counted by its kind; anything else TLS refused, with its words kept.
void BenchLoop::fail(BenchConnection& connection, const IoResult& failure) {
  if (failure.error) return fail(connection, kind_of(failure.error.value()));
  if (result_.first_tls_error.empty()) result_.first_tls_error = failure.message;
  fail(connection, ErrorKind::kTls);
}

void BenchLoop::fail(BenchConnection& connection, ErrorKind kind) {
  if (Clock::now() <= deadline_) {
    count(result_.errors, kind);
    ++unpublished_errors_;
  }
  if (connection.state == BenchConnection::State::kConnecting ||
      connection.state == BenchConnection::State::kHandshaking) {
    --connecting_;
  }
  replies_due_ -= connection.outstanding;
  connection.stream.reset();  // closing the socket also takes it out of the epoll set
  connection.outstanding = 0;
  if (!settings_.reconnect) {
    connection.state = BenchConnection::State::kDone;
    return;
  }
  connection.state = BenchConnection::State::kIdle;
  connection.retry_at = Clock::now() + kRetryDelay;
}

// Timeouts, and reconnecting connections that failed.
void BenchLoop::sweep(Clock::time_point now) {
  for (auto& connection : connections_) {
    switch (connection.state) {
      case BenchConnection::State::kConnecting:
      case BenchConnection::State::kHandshaking:
        if (now - connection.started > options_.timeout) fail(connection, ErrorKind::kTimeout);
        break;
      case BenchConnection::State::kOpen:
        if (connection.outstanding > 0 &&
            now - connection.sent_at[connection.ring_head] > options_.timeout) {
          fail(connection, ErrorKind::kTimeout);
        }
        break;
      case BenchConnection::State::kIdle:
        if (settings_.reconnect && now >= connection.retry_at && now < deadline_) {
          start_connect(connection);
        }
        break;
      case BenchConnection::State::kDone:
        break;
    }
  }
}

void BenchLoop::publish() {
  const std::lock_guard lock(published_.mutex);
  published_.replies += std::exchange(unpublished_replies_, 0);
  published_.connections += std::exchange(unpublished_connections_, 0);
  published_.errors += std::exchange(unpublished_errors_, 0);
  published_.latency.merge(interval_latency_);
  interval_latency_.clear();
}

void BenchLoop::finish(Clock::time_point measured_until) {
  for (auto& connection : connections_) connection.stream.reset();
  measured_until_ = measured_until;
  publish();
}

}  // namespace tcp_server::client
