#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcp_server/endpoint.hpp"

namespace tcp_server {

// Synthetic TCP/IP packets for --pcap: what a conversation's bytes would have looked like on the
// wire, rebuilt from what the connection read and wrote, so that Wireshark's "Follow TCP Stream"
// shows it exactly. Pure: no clock, no file, no socket.

// TCP header flags (RFC 9293, 3.1).
namespace tcp_flags {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
}  // namespace tcp_flags

enum class TcpSide { kClient, kServer };

// The two ends of one conversation, as IP addresses of one family.
class TcpFlow {
 public:
  // Empty when either end is neither IPv4 nor IPv6 (a PROXY header's UNKNOWN). When the families
  // differ (an IPv6 client named by a PROXY header, seen by an IPv4 socket), the IPv4 end is
  // written as IPv4-mapped IPv6 (::ffff:a.b.c.d), the form a dual-stack socket would have seen.
  static std::optional<TcpFlow> between(const Endpoint& client, const Endpoint& server);

  [[nodiscard]] bool is_v6() const noexcept { return v6_; }
  // Address bytes in network order: 4 (IPv4) or 16 (IPv6).
  [[nodiscard]] std::string_view address(TcpSide side) const noexcept;
  [[nodiscard]] std::uint16_t port(TcpSide side) const noexcept;

 private:
  bool v6_ = false;
  std::array<std::array<std::uint8_t, 16>, 2> addresses_{};
  std::array<std::uint16_t, 2> ports_{};
};

// One TCP segment: sent by from, its sequence and acknowledgement numbers, flags and payload.
struct TcpSegment {
  TcpSide from = TcpSide::kClient;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::string_view payload;
};

inline constexpr std::size_t kIpv4HeaderSize = 20;
inline constexpr std::size_t kIpv6HeaderSize = 40;
inline constexpr std::size_t kTcpHeaderSize = 20;

// The most payload one packet of this flow can carry: IPv4's total length and IPv6's payload
// length are 16-bit fields (65535 - 40 for IPv4, 65535 - 20 for IPv6).
std::size_t max_tcp_payload(const TcpFlow& flow) noexcept;

// The IP packet of segment (IPv4 or IPv6 header, TCP header without options, payload), both
// checksums filled in; appended to out. segment.payload must fit max_tcp_payload(flow).
void append_tcp_packet(std::string& out, const TcpFlow& flow, const TcpSegment& segment);

// The packets of segment, its payload split into pieces of at most max_payload bytes (each
// piece's seq after the last; PSH on the last piece only; FIN and RST, if any, on the last).
// With acknowledged, each piece carrying payload is followed by the other end's ACK of it (seq
// segment.ack), as the receiving kernel would have sent: without them a long one-way stream
// would fill the advertised window as far as Wireshark can tell. Appended to packets, one string
// each.
void append_tcp_packets(std::vector<std::string>& packets, const TcpFlow& flow,
                        const TcpSegment& segment, std::size_t max_payload,
                        bool acknowledged = false);

// The Internet checksum (RFC 1071) of bytes, started from sum (a partial sum of earlier bytes).
std::uint16_t internet_checksum(std::string_view bytes, std::uint32_t sum = 0) noexcept;

// The sequence numbers of one conversation as both ends count them: each segment it returns
// carries the sender's next sequence number and acknowledges all the other end has sent.
// Not thread safe.
class TcpConversation {
 public:
  TcpConversation(std::uint32_t client_isn, std::uint32_t server_isn) noexcept;

  // SYN, SYN-ACK, ACK.
  [[nodiscard]] std::array<TcpSegment, 3> open() noexcept;
  // payload from side: PSH|ACK; the sequence number advances by its size.
  [[nodiscard]] TcpSegment data(TcpSide from, std::string_view payload) noexcept;
  // A pure acknowledgement of all the other side sent.
  [[nodiscard]] TcpSegment ack(TcpSide from) const noexcept;
  // FIN|ACK; the sequence number advances by one. Once per side.
  [[nodiscard]] TcpSegment fin(TcpSide from) noexcept;
  // RST|ACK.
  [[nodiscard]] TcpSegment reset(TcpSide from) const noexcept;

  [[nodiscard]] bool has_sent_fin(TcpSide side) const noexcept;

 private:
  struct End {
    std::uint32_t next_seq;
    bool fin_sent = false;
  };
  End& end(TcpSide side) noexcept;
  const End& end(TcpSide side) const noexcept;
  const End& other(TcpSide side) const noexcept;

  End client_;
  End server_;
};

}  // namespace tcp_server
