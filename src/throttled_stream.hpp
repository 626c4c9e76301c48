#pragma once

#include <memory>

#include "tcp_server/byte_stream.hpp"
#include "tcp_server/send_pacer.hpp"
#include "wakeable_wait.hpp"

namespace tcp_server {

// --throttle: a ByteStream around another that sends at most so many bytes a second, in small
// pieces, so that a client sees a slow link. Everything else passes through. The waits between
// pieces end at shut_down(SHUT_RDWR or SHUT_WR) (the drain's deadline, --max-lifetime); the
// drain's SHUT_RD lets a reply being written finish at its pace, as on a plain stream.
class ThrottledStream final : public ByteStream {
 public:
  ThrottledStream(std::unique_ptr<ByteStream> inner, std::uint64_t bytes_per_second)
      : inner_(std::move(inner)), pacer_(bytes_per_second) {}

  void configure(const StreamOptions& options) noexcept override { inner_->configure(options); }
  void set_receive_timeout(std::chrono::milliseconds timeout) noexcept override {
    inner_->set_receive_timeout(timeout);
  }
  ReceiveResult receive_some(std::span<char> buffer) override {
    return inner_->receive_some(buffer);
  }
  ReceiveResult receive_queued(std::span<char> buffer) override {
    return inner_->receive_queued(buffer);
  }
  bool wait_readable(std::chrono::milliseconds timeout) override {
    return inner_->wait_readable(timeout);
  }
  bool peer_finished_sending() override { return inner_->peer_finished_sending(); }

  std::error_code send_all(std::string_view bytes) override;
  // A refusal's message: not worth slowing down, and it must not wait.
  void send_without_waiting(std::string_view bytes) noexcept override {
    inner_->send_without_waiting(bytes);
  }

  void shut_down(int how) noexcept override;
  void reset_on_close() noexcept override { inner_->reset_on_close(); }
  void close() noexcept override { inner_->close(); }

 private:
  const std::unique_ptr<ByteStream> inner_;
  SendPacer pacer_;
  WakeableWait stopped_;  // woken when sending is shut down
};

}  // namespace tcp_server
