#include <algorithm>
#include <cstdio>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "client_stream.hpp"
#include "commands.hpp"
#include "message_template.hpp"
#include "tcp_server/log_format.hpp"
#include "tcp_server/socket.hpp"

namespace tcp_server::client {
namespace {

using Clock = std::chrono::steady_clock;

// Everything a client thread shares with the others: output, failures, counts.
class SendReport {
 public:
  SendReport(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

  void reply(std::size_t id, const std::string& shown) {
    const std::lock_guard lock(mutex_);
    ++replies_;
    out_ << "client " << id << ": " << shown << '\n';
  }
  void failure(std::size_t id, const std::string& why) {
    const std::lock_guard lock(mutex_);
    ++failed_;
    err_ << "tcp_client: client " << id << " failed: " << why << '\n';
  }
  [[nodiscard]] std::size_t replies() const { return replies_; }
  [[nodiscard]] std::size_t failed() const { return failed_; }

 private:
  std::mutex mutex_;
  std::ostream& out_;
  std::ostream& err_;
  std::size_t replies_ = 0;
  std::size_t failed_ = 0;
};

// One reply, every wait bounded. Returns an empty string and sets why when there is no reply.
std::string read_reply(ClientStream& stream, ReplyFraming framing, std::string& pending,
                       std::chrono::milliseconds timeout, std::string& why) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (framing == ReplyFraming::kLine) {
      const auto newline = pending.find('\n');
      if (newline != std::string::npos) {
        std::string line = pending.substr(0, newline + 1);
        pending.erase(0, newline + 1);
        return line;
      }
    } else if (!pending.empty()) {
      return std::exchange(pending, {});
    }
    char buffer[16 * 1024];
    const IoResult received = read_some_until(stream, buffer, deadline);
    switch (received.status) {
      case IoStatus::kDone:
        pending.append(buffer, received.bytes);
        break;
      case IoStatus::kTimedOut:
        why = "no reply within " + std::to_string(timeout.count()) + " ms";
        return {};
      case IoStatus::kClosed:
        why = "the server closed the connection before replying";
        return {};
      default:
        why = "receive: " + received.message;
        return {};
    }
  }
}

std::string_view without_line_end(std::string_view line) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line;
}

void run_one_client(const SendOptions& options, const StreamConnector& connector,
                    const Endpoint& server, std::size_t id, SendReport& report) {
  std::string why;
  const auto stream = open_stream(connector, server, options.timeout, why);
  if (!stream) {
    report.failure(id, why);
    return;
  }
  PayloadFormatter formatter(options.encoding, 4096);
  std::string pending;
  std::string shown;
  for (std::size_t n = 1; n <= options.count; ++n) {
    std::string message = expand_message(options.message, id, n);
    if (options.append_newline) message += '\n';
    const IoResult sent = write_all(*stream, message, Clock::now() + options.timeout);
    if (sent.status != IoStatus::kDone) {
      report.failure(id, "message " + std::to_string(n) + ": send: " +
                             (sent.status == IoStatus::kTimedOut ? "timed out" : sent.message));
      return;
    }
    const std::string reply =
        read_reply(*stream, options.reply_framing, pending, options.timeout, why);
    if (!why.empty()) {
      report.failure(id, "message " + std::to_string(n) + ": " + why);
      return;
    }
    formatter.format(shown, options.reply_framing == ReplyFraming::kLine ? without_line_end(reply)
                                                                         : std::string_view(reply));
    report.reply(id, shown);
  }
}

}  // namespace

int run_send(const SendOptions& options, std::ostream& out, std::ostream& err) {
  Endpoint server;
  StreamConnector connector;
  try {
    server = resolve_target(options.target);
    connector = make_stream_connector(options.tls, options.target, err);
  } catch (const std::exception& error) {
    err << "tcp_client: error: " << error.what() << '\n';
    return 1;
  }
  SendReport report(out, err);
  const auto started = Clock::now();
  {
    std::vector<std::jthread> clients;
    clients.reserve(options.clients);
    for (std::size_t id = 1; id <= options.clients; ++id) {
      try {
        clients.emplace_back([&, id] { run_one_client(options, connector, server, id, report); });
      } catch (const std::system_error& error) {
        report.failure(id, std::string("cannot start its thread: ") + error.what());
      }
    }
  }  // jthreads join here
  const std::chrono::duration<double> took = Clock::now() - started;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", took.count());
  out << options.clients << " clients, " << report.replies() << "/"
      << options.clients * options.count << " replies, " << report.failed()
      << " clients failed, in " << seconds << " s\n";
  return report.failed() == 0 ? 0 : 1;
}

}  // namespace tcp_server::client
