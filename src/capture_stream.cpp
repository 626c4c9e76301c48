#include "capture_stream.hpp"

#include <sys/socket.h>

namespace tcp_server {
namespace {

// SplitMix64's finaliser: a conversation's initial sequence numbers spread over the whole 32-bit
// space (as real ones are), yet the same for the same connection number on every run.
std::uint64_t mix(std::uint64_t value) {
  value += 0x9E3779B97F4A7C15ull;
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
  return value ^ (value >> 31);
}

}  // namespace

CaptureStream::CaptureStream(std::unique_ptr<ByteStream> inner, PcapWriter& writer,
                             const Endpoint& server, std::uint64_t conn)
    : inner_(std::move(inner)), writer_(writer), server_(server), conn_(conn) {}

void CaptureStream::on_admitted(const Endpoint& client, std::string_view first_bytes) noexcept {
  inner_->on_admitted(client, first_bytes);
  flow_ = TcpFlow::between(client, server_);
  if (!flow_) return;
  const std::uint64_t isn = mix(conn_);
  conversation_.emplace(static_cast<std::uint32_t>(isn), static_cast<std::uint32_t>(isn >> 32));
  for (const TcpSegment& segment : conversation_->open()) record(segment);
  if (!first_bytes.empty()) {
    record(conversation_->data(TcpSide::kClient, first_bytes), /*acknowledged=*/true);
  }
}

ReceiveResult CaptureStream::receive_some(std::span<char> buffer) {
  const ReceiveResult result = inner_->receive_some(buffer);
  received(result, buffer);
  return result;
}

ReceiveResult CaptureStream::receive_queued(std::span<char> buffer) {
  const ReceiveResult result = inner_->receive_queued(buffer);
  received(result, buffer);
  return result;
}

void CaptureStream::received(const ReceiveResult& result, std::span<const char> buffer) noexcept {
  if (!conversation_) return;
  if (result.bytes > 0) {
    record(conversation_->data(TcpSide::kClient, std::string_view(buffer.data(), result.bytes)),
           /*acknowledged=*/true);
    return;
  }
  if (result.error && is_peer_gone(result.error)) {
    record(conversation_->reset(TcpSide::kClient));
    peer_reset_ = true;
    return;
  }
  // End of stream: the peer's FIN, unless our own SHUT_RD made it.
  if (!result.error && !read_shut_down_.load() && !conversation_->has_sent_fin(TcpSide::kClient)) {
    record(conversation_->fin(TcpSide::kClient));
  }
}

std::error_code CaptureStream::send_all(std::string_view bytes) {
  const std::error_code error = inner_->send_all(bytes);
  // A failed send_all() does not say how much went out: only complete replies are recorded.
  if (!error && conversation_ && !bytes.empty()) {
    record(conversation_->data(TcpSide::kServer, bytes), /*acknowledged=*/true);
  }
  return error;
}

void CaptureStream::shut_down(int how) noexcept {
  if (how == SHUT_RD || how == SHUT_RDWR) read_shut_down_.store(true);
  inner_->shut_down(how);
}

void CaptureStream::reset_on_close() noexcept {
  reset_ = true;
  inner_->reset_on_close();
}

void CaptureStream::close() noexcept {
  if (conversation_ && !peer_reset_) {
    if (reset_) {
      record(conversation_->reset(TcpSide::kServer));
    } else {
      record(conversation_->fin(TcpSide::kServer));
      // The client's kernel acknowledges our FIN; after the client's own FIN that ends the
      // conversation. (A client that has not closed yet may still do so: not ours to invent.)
      if (conversation_->has_sent_fin(TcpSide::kClient)) {
        record(conversation_->ack(TcpSide::kClient));
      }
    }
    conversation_.reset();
  }
  inner_->close();
}

void CaptureStream::record(const TcpSegment& segment, bool acknowledged) noexcept {
  writer_.record(*flow_, segment, acknowledged, std::chrono::system_clock::now());
}

}  // namespace tcp_server
