#include "bench.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>
#include <vector>

#include "tcp_server/socket.hpp"

namespace tcp_server::client {

void ErrorCounts::add(const ErrorCounts& other_counts) noexcept {
  refused += other_counts.refused;
  reset += other_counts.reset;
  closed += other_counts.closed;
  timeout += other_counts.timeout;
  wrong_reply += other_counts.wrong_reply;
  other += other_counts.other;
}

std::uint64_t ErrorCounts::total() const noexcept {
  return refused + reset + closed + timeout + wrong_reply + other;
}

namespace {

using Clock = std::chrono::steady_clock;

// How often a worker looks for timed-out connections and publishes its figures.
constexpr std::chrono::milliseconds kSweepInterval{50};
// A connection refused or failed is retried after this, so a server that is down is not
// hammered in a tight loop.
constexpr std::chrono::milliseconds kRetryDelay{10};
// Connects in flight per worker in hold mode: more would only overflow the server's backlog
// and cost SYN retransmits.
constexpr std::size_t kMaxConnecting = 256;

enum class ErrorKind { kRefused, kReset, kClosed, kTimeout, kWrongReply, kOther };

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
  }
}

// What a worker shows the progress reporter: figures since the last look.
struct Published {
  std::mutex mutex;
  std::uint64_t replies = 0;
  std::uint64_t connections = 0;
  std::uint64_t errors = 0;
  LatencyHistogram latency;
};

struct Connection {
  enum class State { kIdle, kConnecting, kOpen, kDone };
  UniqueFd fd;
  State state = State::kIdle;
  Clock::time_point started;               // when the connect began
  Clock::time_point retry_at;              // kIdle: when to connect again
  std::vector<Clock::time_point> sent_at;  // ring of send times, one per reply due
  std::size_t ring_head = 0;
  std::size_t outstanding = 0;
  std::size_t matched = 0;  // bytes of the reply being received that matched so far
  std::string unsent;       // bytes send() has not taken yet
  bool watching_writable = false;
};

// One event loop driving a share of the connections. Used from its own thread only.
class Worker {
 public:
  Worker(const BenchOptions& options, const Endpoint& server, std::size_t slots,
         Published& published)
      : options_(options),
        server_(server),
        connections_(slots),
        published_(published),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epoll_) throw std::system_error(errno_code(errno), "epoll_create1");
    const std::size_t ring = options.mode == BenchMode::kPingpong ? options.pipeline : 1;
    for (auto& connection : connections_) connection.sent_at.resize(ring);
  }

  void run(Clock::time_point start) {
    start_ = start;
    if (options_.mode == BenchMode::kHold) {
      run_hold();
    } else {
      deadline_ = start + options_.duration;
      for (auto& connection : connections_) start_connect(connection);
      loop_until(deadline_, [] { return false; });
      measured_until_ = deadline_;
    }
    for (auto& connection : connections_) connection.fd.reset();
    publish();
  }

  [[nodiscard]] const BenchResult& result() const { return result_; }
  [[nodiscard]] Clock::time_point measured_until() const { return measured_until_; }

 private:
  // Hold: open every connection (a bounded number at a time), keep them idle, then check that
  // each still answers.
  void run_hold() {
    deadline_ = Clock::time_point::max();
    std::size_t next = 0;
    const auto connect_more = [&] {
      while (next < connections_.size() && connecting_ < kMaxConnecting) {
        start_connect(connections_[next++]);
      }
    };
    connect_more();
    loop_until(Clock::time_point::max(), [&] {
      connect_more();
      return next == connections_.size() && connecting_ == 0;
    });
    const auto hold_until = Clock::now() + options_.hold_time;
    loop_until(hold_until, [] { return false; });
    for (auto& connection : connections_) {
      if (connection.state == Connection::State::kOpen) queue_messages(connection, 1);
    }
    const auto answer_by = Clock::now() + options_.timeout + kSweepInterval * 2;
    loop_until(answer_by, [&] { return awaiting_ == 0; });
    measured_until_ = Clock::now();
  }

  // Runs the event loop until `until` passes or done() holds.
  template <class Done>
  void loop_until(Clock::time_point until, Done done) {
    std::vector<epoll_event> events(256);
    auto next_sweep = Clock::now() + kSweepInterval;
    while (!done()) {
      const auto now = Clock::now();
      if (now >= until) return;
      if (now >= next_sweep) {
        sweep(now);
        publish();
        next_sweep = now + kSweepInterval;
        continue;
      }
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::min(next_sweep, until) - now) +
          std::chrono::milliseconds(1);
      const int ready = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                                     static_cast<int>(wait.count()));
      if (ready < 0) {
        if (errno == EINTR) continue;
        throw std::system_error(errno_code(errno), "epoll_wait");
      }
      for (int i = 0; i < ready; ++i) {
        handle(*static_cast<Connection*>(events[static_cast<std::size_t>(i)].data.ptr),
               events[static_cast<std::size_t>(i)].events);
      }
    }
  }

  void handle(Connection& connection, std::uint32_t events) {
    if (connection.state == Connection::State::kConnecting) {
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(connection.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) return fail(connection, kind_of(error));
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
      return on_connected(connection);
    }
    if (connection.state != Connection::State::kOpen) return;
    if ((events & EPOLLOUT) != 0 && !connection.unsent.empty()) {
      if (!flush(connection)) return;
    }
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) on_readable(connection);
  }

  void start_connect(Connection& connection) {
    connection.fd.reset(
        ::socket(server_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
    connection.started = Clock::now();
    connection.outstanding = 0;
    connection.ring_head = 0;
    connection.matched = 0;
    connection.unsent.clear();
    connection.watching_writable = false;
    if (!connection.fd) return fail(connection, ErrorKind::kOther);
    const int one = 1;
    ::setsockopt(connection.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(connection.fd.get(), server_.sockaddr_ptr(), server_.sockaddr_length()) != 0 &&
        errno != EINPROGRESS) {
      return fail(connection, kind_of(errno));
    }
    // Even a connect that completed at once is confirmed through EPOLLOUT: one code path.
    connection.state = Connection::State::kConnecting;
    ++connecting_;
    watch(connection, EPOLL_CTL_ADD, EPOLLOUT);
  }

  void on_connected(Connection& connection) {
    --connecting_;
    connection.state = Connection::State::kOpen;
    connection.watching_writable = false;
    watch(connection, EPOLL_CTL_MOD, EPOLLIN);
    switch (options_.mode) {
      case BenchMode::kPingpong:
        queue_messages(connection, options_.pipeline);
        break;
      case BenchMode::kChurn:
        queue_messages(connection, 1);
        break;
      case BenchMode::kHold:
        ++result_.connections;
        ++unpublished_connections_;
        break;
    }
  }

  void watch(Connection& connection, int operation, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.ptr = &connection;
    ::epoll_ctl(epoll_.get(), operation, connection.fd.get(), &event);
  }

  void queue_messages(Connection& connection, std::size_t how_many) {
    const auto now = Clock::now();
    for (std::size_t i = 0; i < how_many; ++i) {
      const std::size_t slot =
          (connection.ring_head + connection.outstanding) % connection.sent_at.size();
      connection.sent_at[slot] = now;
      ++connection.outstanding;
      connection.unsent += options_.message;
    }
    if (options_.mode == BenchMode::kHold) awaiting_ += how_many;
    flush(connection);
  }

  // Sends what it can; false when the connection failed.
  bool flush(Connection& connection) {
    while (!connection.unsent.empty()) {
      const ssize_t sent = ::send(connection.fd.get(), connection.unsent.data(),
                                  connection.unsent.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        fail(connection, kind_of(errno));
        return false;
      }
      connection.unsent.erase(0, static_cast<std::size_t>(sent));
    }
    const bool want_writable = !connection.unsent.empty();
    if (want_writable != connection.watching_writable) {
      connection.watching_writable = want_writable;
      watch(connection, EPOLL_CTL_MOD, want_writable ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
    }
    return true;
  }

  void on_readable(Connection& connection) {
    const ssize_t received =
        ::recv(connection.fd.get(), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (received < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      return fail(connection, kind_of(errno));
    }
    if (received == 0) return fail(connection, ErrorKind::kClosed);

    const std::string_view expect = options_.expect;
    std::string_view data(buffer_.data(), static_cast<std::size_t>(received));
    std::size_t completed = 0;
    const auto now = Clock::now();
    while (!data.empty()) {
      if (connection.outstanding == 0) return fail(connection, ErrorKind::kWrongReply);
      const std::size_t take = std::min(data.size(), expect.size() - connection.matched);
      if (data.substr(0, take) != expect.substr(connection.matched, take)) {
        return fail(connection, ErrorKind::kWrongReply);
      }
      connection.matched += take;
      data.remove_prefix(take);
      if (connection.matched < expect.size()) break;
      connection.matched = 0;
      const auto sent = connection.sent_at[connection.ring_head];
      connection.ring_head = (connection.ring_head + 1) % connection.sent_at.size();
      --connection.outstanding;
      ++completed;
      if (now <= deadline_) {
        const auto latency =
            options_.mode == BenchMode::kChurn ? now - connection.started : now - sent;
        result_.latency.record(latency);
        interval_latency_.record(latency);
        ++result_.replies;
        ++unpublished_replies_;
      }
    }
    if (completed == 0) return;
    switch (options_.mode) {
      case BenchMode::kPingpong:
        if (now < deadline_) queue_messages(connection, completed);
        break;
      case BenchMode::kChurn:
        if (now <= deadline_) {
          ++result_.connections;
          ++unpublished_connections_;
        }
        connection.fd.reset();
        connection.state = Connection::State::kIdle;
        if (now < deadline_) start_connect(connection);
        break;
      case BenchMode::kHold:
        result_.answered += completed;
        awaiting_ -= completed;
        break;
    }
  }

  void fail(Connection& connection, ErrorKind kind) {
    if (Clock::now() <= deadline_) {
      count(result_.errors, kind);
      ++unpublished_errors_;
    }
    if (connection.state == Connection::State::kConnecting) --connecting_;
    if (options_.mode == BenchMode::kHold) awaiting_ -= connection.outstanding;
    connection.fd.reset();  // also takes it out of the epoll set
    connection.outstanding = 0;
    if (options_.mode == BenchMode::kHold) {
      connection.state = Connection::State::kDone;
      return;
    }
    connection.state = Connection::State::kIdle;
    connection.retry_at = Clock::now() + kRetryDelay;
  }

  // Timeouts, and reconnecting connections that failed.
  void sweep(Clock::time_point now) {
    for (auto& connection : connections_) {
      switch (connection.state) {
        case Connection::State::kConnecting:
          if (now - connection.started > options_.timeout) fail(connection, ErrorKind::kTimeout);
          break;
        case Connection::State::kOpen:
          if (connection.outstanding > 0 &&
              now - connection.sent_at[connection.ring_head] > options_.timeout) {
            fail(connection, ErrorKind::kTimeout);
          }
          break;
        case Connection::State::kIdle:
          // Hold connects each connection once, paced by run_hold(); the others retry.
          if (options_.mode != BenchMode::kHold && now >= connection.retry_at && now < deadline_) {
            start_connect(connection);
          }
          break;
        case Connection::State::kDone:
          break;
      }
    }
  }

  void publish() {
    const std::lock_guard lock(published_.mutex);
    published_.replies += std::exchange(unpublished_replies_, 0);
    published_.connections += std::exchange(unpublished_connections_, 0);
    published_.errors += std::exchange(unpublished_errors_, 0);
    published_.latency.merge(interval_latency_);
    interval_latency_.clear();
  }

  const BenchOptions& options_;
  const Endpoint& server_;
  std::vector<Connection> connections_;
  Published& published_;
  UniqueFd epoll_;
  std::array<char, 64 * 1024> buffer_{};
  Clock::time_point start_;
  Clock::time_point deadline_;
  Clock::time_point measured_until_;
  std::size_t connecting_ = 0;
  std::size_t awaiting_ = 0;  // hold: replies still due
  BenchResult result_;
  LatencyHistogram interval_latency_;
  std::uint64_t unpublished_replies_ = 0;
  std::uint64_t unpublished_connections_ = 0;
  std::uint64_t unpublished_errors_ = 0;
};

std::string milliseconds(std::chrono::nanoseconds value) {
  return fmt::format("{:.3f} ms", static_cast<double>(value.count()) / 1e6);
}

const char* mode_name(BenchMode mode) {
  switch (mode) {
    case BenchMode::kPingpong:
      return "pingpong";
    case BenchMode::kChurn:
      return "churn";
    case BenchMode::kHold:
      return "hold";
  }
  return "?";
}

// Wakes once a second while the workers run and prints what they published since.
class ProgressReporter {
 public:
  ProgressReporter(std::ostream& out, std::vector<std::unique_ptr<Published>>& published,
                   BenchMode mode)
      : out_(out), published_(published), mode_(mode) {}

  void run(Clock::time_point start, const std::atomic<bool>& finished) {
    auto next = start + std::chrono::seconds(1);
    std::unique_lock lock(mutex_);
    while (!finished.load()) {
      if (wake_.wait_until(lock, next, [&] { return finished.load(); })) break;
      report(std::chrono::duration<double>(Clock::now() - start).count());
      next += std::chrono::seconds(1);
    }
  }
  void finish() {
    const std::lock_guard lock(mutex_);
    wake_.notify_all();
  }

 private:
  void report(double elapsed) {
    std::uint64_t replies = 0;
    std::uint64_t connections = 0;
    std::uint64_t errors = 0;
    LatencyHistogram latency;
    for (auto& published : published_) {
      const std::lock_guard lock(published->mutex);
      replies += std::exchange(published->replies, 0);
      connections += std::exchange(published->connections, 0);
      errors += std::exchange(published->errors, 0);
      latency.merge(published->latency);
      published->latency.clear();
    }
    errors_ += errors;
    connections_ += connections;
    if (mode_ == BenchMode::kHold) {
      out_ << fmt::format("[{:6.1f} s] {} connections open, errors {}\n", elapsed, connections_,
                          errors_);
    } else {
      out_ << fmt::format("[{:6.1f} s] {} replies/s, p99 {}, errors {}\n", elapsed, replies,
                          milliseconds(latency.quantile(0.99)), errors_);
    }
    out_.flush();
  }

  std::ostream& out_;
  std::vector<std::unique_ptr<Published>>& published_;
  BenchMode mode_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::uint64_t errors_ = 0;
  std::uint64_t connections_ = 0;
};

}  // namespace

BenchResult run_bench(const BenchOptions& options, const Endpoint& server, std::ostream* progress) {
  const std::size_t total =
      options.mode == BenchMode::kChurn ? options.concurrency : options.connections;
  const std::size_t threads =
      std::clamp<std::size_t>(options.threads, 1, std::max<std::size_t>(total, 1));
  std::vector<std::unique_ptr<Published>> published;
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::size_t i = 0; i < threads; ++i) {
    published.push_back(std::make_unique<Published>());
    const std::size_t share = total / threads + (i < total % threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(options, server, share, *published.back()));
  }

  const bool show_progress =
      progress != nullptr && options.progress &&
      (options.mode == BenchMode::kHold ? options.hold_time : options.duration) >
          std::chrono::seconds(3);
  ProgressReporter reporter(progress != nullptr ? *progress : std::cerr, published, options.mode);
  std::atomic<bool> finished{false};
  const auto start = Clock::now();
  std::exception_ptr failure;
  std::mutex failure_mutex;
  {
    std::jthread progress_thread;
    if (show_progress) progress_thread = std::jthread([&] { reporter.run(start, finished); });
    {
      std::vector<std::jthread> running;
      for (auto& worker : workers) {
        running.emplace_back([&worker, start, &failure, &failure_mutex] {
          try {
            worker->run(start);
          } catch (...) {
            const std::lock_guard lock(failure_mutex);
            failure = std::current_exception();
          }
        });
      }
    }
    finished = true;
    reporter.finish();
  }
  if (failure) std::rethrow_exception(failure);

  BenchResult result;
  result.server = server.to_string();
  Clock::time_point end = start;
  for (const auto& worker : workers) {
    const BenchResult& part = worker->result();
    result.replies += part.replies;
    result.connections += part.connections;
    result.answered += part.answered;
    result.errors.add(part.errors);
    result.latency.merge(part.latency);
    end = std::max(end, worker->measured_until());
  }
  result.seconds = std::chrono::duration<double>(end - start).count();
  return result;
}

std::string format_summary(const BenchOptions& options, const BenchResult& result) {
  std::string out;
  switch (options.mode) {
    case BenchMode::kPingpong:
      out += fmt::format("pingpong {}: {} connections, pipeline {}, {:.2f} s\n", result.server,
                         options.connections, options.pipeline, result.seconds);
      out += fmt::format("  {} replies, {:.0f} replies/s\n", result.replies,
                         static_cast<double>(result.replies) / result.seconds);
      break;
    case BenchMode::kChurn:
      out += fmt::format("churn {}: concurrency {}, {:.2f} s\n", result.server, options.concurrency,
                         result.seconds);
      out += fmt::format("  {} connections, {:.0f} connections/s\n", result.connections,
                         static_cast<double>(result.connections) / result.seconds);
      break;
    case BenchMode::kHold:
      out +=
          fmt::format("hold {}: {} connections held {:.1f} s\n", result.server, options.connections,
                      std::chrono::duration<double>(options.hold_time).count());
      out += fmt::format("  {} connected, {} answered afterwards\n", result.connections,
                         result.answered);
      break;
  }
  const auto& e = result.errors;
  out += fmt::format(
      "  errors {} (refused {}, reset {}, closed {}, timeout {}, wrong reply {}, other {})\n",
      e.total(), e.refused, e.reset, e.closed, e.timeout, e.wrong_reply, e.other);
  const auto& h = result.latency;
  out += fmt::format("  latency p50 {}, p90 {}, p99 {}, p99.9 {}, max {}\n",
                     milliseconds(h.quantile(0.5)), milliseconds(h.quantile(0.9)),
                     milliseconds(h.quantile(0.99)), milliseconds(h.quantile(0.999)),
                     milliseconds(h.max()));
  return out;
}

std::string format_json(const BenchOptions& options, const BenchResult& result) {
  const auto us = [](std::chrono::nanoseconds value) {
    return static_cast<double>(value.count()) / 1e3;
  };
  const auto& e = result.errors;
  const auto& h = result.latency;
  const double rate =
      static_cast<double>(options.mode == BenchMode::kChurn ? result.connections : result.replies) /
      result.seconds;
  return fmt::format(
      R"({{"mode":"{}","server":"{}","connections":{},"pipeline":{},"concurrency":{},)"
      R"("threads":{},"seconds":{:.3f},"replies":{},"connections_completed":{},)"
      R"("answered":{},"rate":{:.1f},"errors":{{"total":{},"refused":{},"reset":{},)"
      R"("closed":{},"timeout":{},"wrong_reply":{},"other":{}}},)"
      R"("latency_us":{{"p50":{:.1f},"p90":{:.1f},"p99":{:.1f},"p999":{:.1f},"max":{:.1f}}}}})"
      "\n",
      mode_name(options.mode), result.server, options.connections, options.pipeline,
      options.concurrency, options.threads, result.seconds, result.replies, result.connections,
      result.answered, rate, e.total(), e.refused, e.reset, e.closed, e.timeout, e.wrong_reply,
      e.other, us(h.quantile(0.5)), us(h.quantile(0.9)), us(h.quantile(0.99)),
      us(h.quantile(0.999)), us(h.max()));
}

}  // namespace tcp_server::client
