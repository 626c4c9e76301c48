#include "tcp_server/tcp_segments.hpp"

#include <algorithm>
#include <cstring>

namespace tcp_server {
namespace {

constexpr std::uint8_t kProtocolTcp = 6;
constexpr std::uint8_t kDefaultTtl = 64;
// Advertised by both ends. Never reached: each side's data is acknowledged as it arrives
// (see PcapWriter), so Wireshark sees no "window full".
constexpr std::uint16_t kWindow = 65535;

std::size_t index(TcpSide side) {
  return side == TcpSide::kClient ? 0 : 1;
}
TcpSide opposite(TcpSide side) {
  return side == TcpSide::kClient ? TcpSide::kServer : TcpSide::kClient;
}

void put16(std::string& out, std::uint16_t value) {
  out += static_cast<char>(value >> 8);
  out += static_cast<char>(value & 0xFF);
}

void put32(std::string& out, std::uint32_t value) {
  put16(out, static_cast<std::uint16_t>(value >> 16));
  put16(out, static_cast<std::uint16_t>(value & 0xFFFF));
}

void set16(std::string& out, std::size_t at, std::uint16_t value) {
  out[at] = static_cast<char>(value >> 8);
  out[at + 1] = static_cast<char>(value & 0xFF);
}

std::uint32_t add_to_sum(std::string_view bytes, std::uint32_t sum) {
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
    sum += (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 8) |
           static_cast<unsigned char>(bytes[i + 1]);
    sum = (sum & 0xFFFF) + (sum >> 16);
  }
  if (bytes.size() % 2 == 1) {
    sum += static_cast<std::uint32_t>(static_cast<unsigned char>(bytes.back())) << 8;
    sum = (sum & 0xFFFF) + (sum >> 16);
  }
  return sum;
}

}  // namespace

std::optional<TcpFlow> TcpFlow::between(const Endpoint& client, const Endpoint& server) {
  const auto known = [](const Endpoint& end) { return end.is_v4() || end.is_v6(); };
  if (!known(client) || !known(server)) return std::nullopt;
  TcpFlow flow;
  flow.v6_ = client.is_v6() || server.is_v6();
  const Endpoint* ends[2] = {&client, &server};
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string_view bytes = ends[i]->address_bytes();
    auto& address = flow.addresses_[i];
    if (flow.v6_ && bytes.size() == 4) {
      address[10] = 0xFF;
      address[11] = 0xFF;
      std::memcpy(address.data() + 12, bytes.data(), 4);
    } else {
      std::memcpy(address.data(), bytes.data(), bytes.size());
    }
    flow.ports_[i] = ends[i]->port();
  }
  return flow;
}

std::string_view TcpFlow::address(TcpSide side) const noexcept {
  const auto& address = addresses_[index(side)];
  return {reinterpret_cast<const char*>(address.data()), v6_ ? 16u : 4u};
}

std::uint16_t TcpFlow::port(TcpSide side) const noexcept {
  return ports_[index(side)];
}

std::size_t max_tcp_payload(const TcpFlow& flow) noexcept {
  return flow.is_v6() ? 65535 - kTcpHeaderSize : 65535 - kIpv4HeaderSize - kTcpHeaderSize;
}

std::uint16_t internet_checksum(std::string_view bytes, std::uint32_t sum) noexcept {
  return static_cast<std::uint16_t>(~add_to_sum(bytes, sum) & 0xFFFF);
}

void append_tcp_packet(std::string& out, const TcpFlow& flow, const TcpSegment& segment) {
  const std::string_view source = flow.address(segment.from);
  const std::string_view destination = flow.address(opposite(segment.from));
  const std::size_t tcp_length = kTcpHeaderSize + segment.payload.size();
  const std::size_t ip_start = out.size();
  if (flow.is_v6()) {
    put32(out, 0x60000000);  // version 6, traffic class 0, flow label 0
    put16(out, static_cast<std::uint16_t>(tcp_length));
    out += static_cast<char>(kProtocolTcp);
    out += static_cast<char>(kDefaultTtl);
    out.append(source);
    out.append(destination);
  } else {
    out += static_cast<char>(0x45);  // version 4, 5 words of header
    out += '\0';
    put16(out, static_cast<std::uint16_t>(kIpv4HeaderSize + tcp_length));
    put16(out, 0);       // identification: unused with DF
    put16(out, 0x4000);  // DF, no fragments
    out += static_cast<char>(kDefaultTtl);
    out += static_cast<char>(kProtocolTcp);
    put16(out, 0);  // checksum, below
    out.append(source);
    out.append(destination);
    set16(out, ip_start + 10,
          internet_checksum(std::string_view(out).substr(ip_start, kIpv4HeaderSize)));
  }
  const std::size_t tcp_start = out.size();
  put16(out, flow.port(segment.from));
  put16(out, flow.port(opposite(segment.from)));
  put32(out, segment.seq);
  put32(out, (segment.flags & tcp_flags::kAck) ? segment.ack : 0);
  out += static_cast<char>(5 << 4);  // 5 words of header, no options
  out += static_cast<char>(segment.flags);
  put16(out, kWindow);
  put16(out, 0);  // checksum, below
  put16(out, 0);  // urgent pointer
  out.append(segment.payload);

  // The pseudo-header: RFC 9293 3.1 (IPv4), RFC 8200 8.1 (IPv6).
  std::string pseudo;
  pseudo.append(source);
  pseudo.append(destination);
  if (flow.is_v6()) {
    put32(pseudo, static_cast<std::uint32_t>(tcp_length));
    put32(pseudo, kProtocolTcp);
  } else {
    pseudo += '\0';
    pseudo += static_cast<char>(kProtocolTcp);
    put16(pseudo, static_cast<std::uint16_t>(tcp_length));
  }
  const std::uint32_t partial = add_to_sum(pseudo, 0);
  set16(out, tcp_start + 16, internet_checksum(std::string_view(out).substr(tcp_start), partial));
}

void append_tcp_packets(std::vector<std::string>& packets, const TcpFlow& flow,
                        const TcpSegment& segment, std::size_t max_payload, bool acknowledged) {
  max_payload = std::clamp<std::size_t>(max_payload, 1, max_tcp_payload(flow));
  const std::uint8_t last_only = tcp_flags::kPsh | tcp_flags::kFin | tcp_flags::kRst;
  std::size_t offset = 0;
  do {
    TcpSegment piece = segment;
    piece.payload = segment.payload.substr(offset, max_payload);
    piece.seq = segment.seq + static_cast<std::uint32_t>(offset);
    offset += piece.payload.size();
    if (offset < segment.payload.size()) piece.flags &= static_cast<std::uint8_t>(~last_only);
    std::string packet;
    const std::size_t header = flow.is_v6() ? kIpv6HeaderSize : kIpv4HeaderSize;
    packet.reserve(header + kTcpHeaderSize + piece.payload.size());
    append_tcp_packet(packet, flow, piece);
    packets.push_back(std::move(packet));
    if (acknowledged && !piece.payload.empty()) {
      const TcpSegment ack{opposite(segment.from),
                           segment.ack,
                           piece.seq + static_cast<std::uint32_t>(piece.payload.size()),
                           tcp_flags::kAck,
                           {}};
      std::string ack_packet;
      append_tcp_packet(ack_packet, flow, ack);
      packets.push_back(std::move(ack_packet));
    }
  } while (offset < segment.payload.size());
}

TcpConversation::TcpConversation(std::uint32_t client_isn, std::uint32_t server_isn) noexcept
    : client_{client_isn}, server_{server_isn} {}

TcpConversation::End& TcpConversation::end(TcpSide side) noexcept {
  return side == TcpSide::kClient ? client_ : server_;
}
const TcpConversation::End& TcpConversation::end(TcpSide side) const noexcept {
  return side == TcpSide::kClient ? client_ : server_;
}
const TcpConversation::End& TcpConversation::other(TcpSide side) const noexcept {
  return end(opposite(side));
}

std::array<TcpSegment, 3> TcpConversation::open() noexcept {
  const TcpSegment syn{TcpSide::kClient, client_.next_seq, 0, tcp_flags::kSyn, {}};
  const TcpSegment syn_ack{TcpSide::kServer,
                           server_.next_seq,
                           client_.next_seq + 1,
                           tcp_flags::kSyn | tcp_flags::kAck,
                           {}};
  ++client_.next_seq;  // a SYN takes one sequence number
  ++server_.next_seq;
  return {syn, syn_ack, ack(TcpSide::kClient)};
}

TcpSegment TcpConversation::data(TcpSide from, std::string_view payload) noexcept {
  TcpSegment segment{from, end(from).next_seq, other(from).next_seq,
                     tcp_flags::kPsh | tcp_flags::kAck, payload};
  end(from).next_seq += static_cast<std::uint32_t>(payload.size());
  return segment;
}

TcpSegment TcpConversation::ack(TcpSide from) const noexcept {
  return {from, end(from).next_seq, other(from).next_seq, tcp_flags::kAck, {}};
}

TcpSegment TcpConversation::fin(TcpSide from) noexcept {
  End& sender = end(from);
  const std::uint8_t flags = tcp_flags::kFin | tcp_flags::kAck;
  // The same FIN again: its number was taken already.
  if (sender.fin_sent) return {from, sender.next_seq - 1, other(from).next_seq, flags, {}};
  const TcpSegment segment{from, sender.next_seq, other(from).next_seq, flags, {}};
  sender.fin_sent = true;
  ++sender.next_seq;  // a FIN takes one sequence number
  return segment;
}

TcpSegment TcpConversation::reset(TcpSide from) const noexcept {
  return {from, end(from).next_seq, other(from).next_seq, tcp_flags::kRst | tcp_flags::kAck, {}};
}

bool TcpConversation::has_sent_fin(TcpSide side) const noexcept {
  return end(side).fin_sent;
}

}  // namespace tcp_server
