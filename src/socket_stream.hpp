#pragma once

#include "tcp_server/byte_stream.hpp"
#include "tcp_server/unique_fd.hpp"

namespace tcp_server {

// A ByteStream straight over a connected TCP (or any stream) socket, which it owns.
class SocketStream final : public ByteStream {
 public:
  explicit SocketStream(UniqueFd fd) noexcept : fd_(std::move(fd)) {}

  void configure(const StreamOptions& options) noexcept override;
  void set_receive_timeout(std::chrono::milliseconds timeout) noexcept override;

  ReceiveResult receive_some(std::span<char> buffer) override;
  ReceiveResult receive_queued(std::span<char> buffer) override;
  bool wait_readable(std::chrono::milliseconds timeout) override;
  bool peer_finished_sending() override;

  std::error_code send_all(std::string_view bytes) override;
  void send_without_waiting(std::string_view bytes) noexcept override;

  void shut_down(int how) noexcept override;
  void reset_on_close() noexcept override;
  void close() noexcept override { fd_.reset(); }

 private:
  UniqueFd fd_;
};

}  // namespace tcp_server
