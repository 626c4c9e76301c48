// --pcap's packet building with arbitrary payloads, numbers, flags and piece sizes: every packet
// fits its length field, both checksums verify, the pieces' sequence numbers follow each other
// and their payloads put together are the input.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tcp_server/tcp_segments.hpp"

namespace {

std::uint32_t read32(const std::uint8_t* data) {
  std::uint32_t value = 0;
  std::memcpy(&value, data, 4);
  return value;
}

std::uint32_t be(std::string_view bytes, std::size_t at, std::size_t count) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < count; ++i)
    value = (value << 8) | static_cast<std::uint8_t>(bytes[at + i]);
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tcp_server;
  if (size < 12) return 0;
  const bool v6 = (data[0] & 1) != 0;
  const auto flags = static_cast<std::uint8_t>(data[1] & 0x3F);
  const std::uint32_t seq = read32(data + 2);
  const std::uint32_t ack = read32(data + 6);
  const std::size_t max_payload = 1 + data[10] * 64;
  const bool acknowledged = (data[11] & 1) != 0;
  const std::string_view payload(reinterpret_cast<const char*>(data) + 12, size - 12);
  const TcpFlow flow = *TcpFlow::between(*Endpoint::from_ip(v6 ? "2001:db8::1" : "10.1.2.3", 40000),
                                         *Endpoint::from_ip(v6 ? "::1" : "127.0.0.1", 9090));
  std::vector<std::string> packets;
  append_tcp_packets(packets, flow, {TcpSide::kClient, seq, ack, flags, payload}, max_payload,
                     acknowledged);
  const std::size_t ip_header = v6 ? kIpv6HeaderSize : kIpv4HeaderSize;
  std::string joined;
  std::uint32_t next_seq = seq;
  for (const std::string& packet : packets) {
    if (packet.size() > 65535 + kIpv6HeaderSize) std::abort();
    const std::string_view tcp = std::string_view(packet).substr(ip_header);
    std::string pseudo(flow.address(TcpSide::kClient));
    const bool from_server = be(tcp, 0, 2) == 9090;
    pseudo = std::string(flow.address(from_server ? TcpSide::kServer : TcpSide::kClient));
    pseudo += flow.address(from_server ? TcpSide::kClient : TcpSide::kServer);
    if (v6) {
      if (be(packet, 4, 2) != tcp.size()) std::abort();
      const auto length = static_cast<std::uint32_t>(tcp.size());
      pseudo += {static_cast<char>(length >> 24),
                 static_cast<char>(length >> 16),
                 static_cast<char>(length >> 8),
                 static_cast<char>(length),
                 0,
                 0,
                 0,
                 6};
    } else {
      if (be(packet, 2, 2) != packet.size()) std::abort();
      if (internet_checksum(std::string_view(packet).substr(0, kIpv4HeaderSize)) != 0) std::abort();
      pseudo += {0, 6, static_cast<char>(tcp.size() >> 8), static_cast<char>(tcp.size() & 0xFF)};
    }
    if (internet_checksum(pseudo + std::string(tcp)) != 0) std::abort();
    if (from_server) continue;  // an acknowledgement of the piece before
    if (be(tcp, 4, 4) != next_seq) std::abort();
    const std::string_view piece = tcp.substr(kTcpHeaderSize);
    if (piece.size() > max_payload) std::abort();
    joined += piece;
    next_seq += static_cast<std::uint32_t>(piece.size());
  }
  if (joined != payload) std::abort();
  return 0;
}
