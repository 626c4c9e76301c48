#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

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

// One reply from a blocking socket, every wait bounded. Returns an empty string and sets why
// when there is no reply.
std::string read_reply(int fd, ReplyFraming framing, std::string& pending,
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
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd waiting{fd, POLLIN, 0};
    const int ready = retry_on_eintr([&] {
      return ::poll(&waiting, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    });
    if (ready == 0) {
      why = "no reply within " + std::to_string(timeout.count()) + " ms";
      return {};
    }
    char buffer[16 * 1024];
    const auto received = receive_some(fd, buffer);
    if (received.error) {
      why = "receive: " + received.error.message();
      return {};
    }
    if (received.bytes == 0) {
      why = "the server closed the connection before replying";
      return {};
    }
    pending.append(buffer, received.bytes);
  }
}

std::string_view without_line_end(std::string_view line) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line;
}

void run_one_client(const SendOptions& options, const Endpoint& server, std::size_t id,
                    SendReport& report) {
  std::error_code error;
  const UniqueFd fd = connect_to(server, options.timeout, error);
  if (error) {
    report.failure(id, "connect to " + server.to_string() + ": " + error.message());
    return;
  }
  set_no_delay(fd.get(), true);
  PayloadFormatter formatter(options.encoding, 4096);
  std::string pending;
  std::string shown;
  for (std::size_t n = 1; n <= options.count; ++n) {
    std::string message = expand_message(options.message, id, n);
    if (options.append_newline) message += '\n';
    if (const auto sent = send_all(fd.get(), message)) {
      report.failure(id, "message " + std::to_string(n) + ": send: " + sent.message());
      return;
    }
    std::string why;
    const std::string reply =
        read_reply(fd.get(), options.reply_framing, pending, options.timeout, why);
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
  try {
    server = resolve_target(options.target);
  } catch (const std::system_error& error) {
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
        clients.emplace_back(
            [&options, &server, &report, id] { run_one_client(options, server, id, report); });
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
