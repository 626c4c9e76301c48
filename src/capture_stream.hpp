#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "pcap_writer.hpp"
#include "tcp_server/byte_stream.hpp"
#include "tcp_server/endpoint.hpp"
#include "tcp_server/tcp_segments.hpp"

namespace tcp_server {

// --pcap: a ByteStream that passes everything to the stream it wraps and records the bytes the
// connection receives and sends, as the segments of one TCP conversation, in a PcapWriter. It
// records from on_admitted() (so a PROXY header is not part of the conversation, and the client
// is the one the header names) to close() (FIN, or RST after reset_on_close()). Installed where
// the stream is made (Server); the connection does not know it is there. Not thread safe, like
// any ByteStream, except shut_down().
class CaptureStream final : public ByteStream {
 public:
  // server: the address the client connected to; conn numbers the conversation (its initial
  // sequence numbers are derived from it, so that runs compare).
  CaptureStream(std::unique_ptr<ByteStream> inner, PcapWriter& writer, const Endpoint& server,
                std::uint64_t conn);

  void on_admitted(const Endpoint& client, std::string_view first_bytes) noexcept override;
  // A TLS stream inside does its handshake here, before admission ends: nothing to record yet.
  std::optional<std::string> start(std::string& received_ahead) override {
    return inner_->start(received_ahead);
  }
  [[nodiscard]] PeerIdentity peer_identity() const override { return inner_->peer_identity(); }
  [[nodiscard]] std::string session_summary() const override { return inner_->session_summary(); }

  void configure(const StreamOptions& options) noexcept override { inner_->configure(options); }
  void set_receive_timeout(std::chrono::milliseconds timeout) noexcept override {
    inner_->set_receive_timeout(timeout);
  }
  ReceiveResult receive_some(std::span<char> buffer) override;
  ReceiveResult receive_queued(std::span<char> buffer) override;
  bool wait_readable(std::chrono::milliseconds timeout) override {
    return inner_->wait_readable(timeout);
  }
  bool peer_finished_sending() override { return inner_->peer_finished_sending(); }
  std::error_code send_all(std::string_view bytes) override;
  // Only refusals use it, before admission: nothing to record (and how much went out is unknown).
  void send_without_waiting(std::string_view bytes) noexcept override {
    inner_->send_without_waiting(bytes);
  }
  void shut_down(int how) noexcept override;
  void reset_on_close() noexcept override;
  void close() noexcept override;

 private:
  void received(const ReceiveResult& result, std::span<const char> buffer) noexcept;
  void record(const TcpSegment& segment, bool acknowledged = false) noexcept;

  const std::unique_ptr<ByteStream> inner_;
  PcapWriter& writer_;
  const Endpoint server_;
  const std::uint64_t conn_;
  std::optional<TcpFlow> flow_;  // set once admitted (and both addresses are IP)
  std::optional<TcpConversation> conversation_;
  std::atomic<bool> read_shut_down_{false};  // our own SHUT_RD: an end of stream is not the peer's
  bool reset_ = false;                       // reset_on_close(): we end with RST
  bool peer_reset_ = false;  // the peer reset the connection: nothing more to record
};

}  // namespace tcp_server
