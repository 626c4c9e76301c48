// --pcap's packet building: layout, checksums, splitting and sequence numbers.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tcp_server/tcp_segments.hpp"

namespace tcp_server {
namespace {

std::uint32_t be16(std::string_view bytes, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at])) << 8) |
         static_cast<unsigned char>(bytes[at + 1]);
}
std::uint32_t be32(std::string_view bytes, std::size_t at) {
  return (be16(bytes, at) << 16) | be16(bytes, at + 2);
}

// An oracle apart from the code under test: the one's complement sum of 16-bit words, folded
// once at the end (RFC 1071's reference loop). A correct checksum makes the sum 0xFFFF.
std::uint32_t ones_complement_sum(std::string_view bytes) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < bytes.size(); i += 2) {
    std::uint32_t word = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 8;
    if (i + 1 < bytes.size()) word |= static_cast<unsigned char>(bytes[i + 1]);
    sum += word;
  }
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint32_t>(sum);
}

// The TCP checksum over the pseudo-header and segment, with the checksum in place: 0xFFFF.
std::uint32_t tcp_sum(std::string_view packet, bool v6) {
  std::string pseudo;
  std::string_view tcp;
  if (v6) {
    pseudo.append(packet.substr(8, 32));
    tcp = packet.substr(40);
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
    pseudo.append(packet.substr(12, 8));
    tcp = packet.substr(20);
    const auto length = static_cast<std::uint16_t>(tcp.size());
    pseudo += {0, 6, static_cast<char>(length >> 8), static_cast<char>(length & 0xFF)};
  }
  return ones_complement_sum(pseudo + std::string(tcp));
}

TcpFlow flow(const char* client, std::uint16_t client_port, const char* server,
             std::uint16_t server_port) {
  return *TcpFlow::between(*Endpoint::from_ip(client, client_port),
                           *Endpoint::from_ip(server, server_port));
}

TEST(InternetChecksum, Rfc1071Example) {
  // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is its complement.
  EXPECT_EQ(internet_checksum(std::string_view("\x00\x01\xf2\x03\xf4\xf5\xf6\xf7", 8)), 0x220D);
  // An odd length pads with a zero byte.
  EXPECT_EQ(internet_checksum(std::string_view("\x01", 1)), static_cast<std::uint16_t>(~0x0100));
}

TEST(TcpPacket, Ipv4LayoutAndChecksums) {
  const TcpFlow ipv4 = flow("10.0.0.1", 51528, "192.168.1.2", 9090);
  std::string packet;
  append_tcp_packet(
      packet, ipv4,
      {TcpSide::kClient, 0xDEADBEEF, 0x01020304, tcp_flags::kPsh | tcp_flags::kAck, "hello"});
  ASSERT_EQ(packet.size(), 20u + 20u + 5u);
  EXPECT_EQ(static_cast<unsigned char>(packet[0]), 0x45);
  EXPECT_EQ(be16(packet, 2), 45u);                      // total length
  EXPECT_EQ(static_cast<unsigned char>(packet[9]), 6);  // TCP
  EXPECT_EQ(packet.substr(12, 4), std::string("\x0a\x00\x00\x01", 4));
  EXPECT_EQ(packet.substr(16, 4), std::string("\xc0\xa8\x01\x02", 4));
  EXPECT_EQ(be16(packet, 20), 51528u);
  EXPECT_EQ(be16(packet, 22), 9090u);
  EXPECT_EQ(be32(packet, 24), 0xDEADBEEFu);
  EXPECT_EQ(be32(packet, 28), 0x01020304u);
  EXPECT_EQ(static_cast<unsigned char>(packet[32]), 0x50);  // 5-word header
  EXPECT_EQ(static_cast<unsigned char>(packet[33]), tcp_flags::kPsh | tcp_flags::kAck);
  EXPECT_EQ(packet.substr(40), "hello");
  EXPECT_EQ(ones_complement_sum(packet.substr(0, 20)), 0xFFFFu);
  EXPECT_EQ(tcp_sum(packet, false), 0xFFFFu);
}

TEST(TcpPacket, FromTheServerSwapsTheEnds) {
  const TcpFlow ipv4 = flow("10.0.0.1", 51528, "192.168.1.2", 9090);
  std::string packet;
  append_tcp_packet(packet, ipv4, {TcpSide::kServer, 1, 2, tcp_flags::kAck, {}});
  EXPECT_EQ(packet.substr(12, 4), std::string("\xc0\xa8\x01\x02", 4));
  EXPECT_EQ(be16(packet, 20), 9090u);
  EXPECT_EQ(be16(packet, 22), 51528u);
  EXPECT_EQ(tcp_sum(packet, false), 0xFFFFu);
}

TEST(TcpPacket, AckNumberOnlyWithAckFlag) {
  const TcpFlow ipv4 = flow("10.0.0.1", 1, "10.0.0.2", 2);
  std::string packet;
  append_tcp_packet(packet, ipv4, {TcpSide::kClient, 7, 99, tcp_flags::kSyn, {}});
  EXPECT_EQ(be32(packet, 28), 0u);
}

TEST(TcpPacket, Ipv6LayoutAndChecksum) {
  const TcpFlow ipv6 = flow("::1", 40000, "2001:db8::5", 7);
  ASSERT_TRUE(ipv6.is_v6());
  std::string packet;
  append_tcp_packet(packet, ipv6, {TcpSide::kClient, 5, 6, tcp_flags::kAck, "odd"});
  ASSERT_EQ(packet.size(), 40u + 20u + 3u);
  EXPECT_EQ(static_cast<unsigned char>(packet[0]) >> 4, 6);
  EXPECT_EQ(be16(packet, 4), 23u);  // payload length: TCP header and data
  EXPECT_EQ(static_cast<unsigned char>(packet[6]), 6);
  EXPECT_EQ(packet.substr(8, 16), std::string(15, '\0') + '\x01');
  EXPECT_EQ(tcp_sum(packet, true), 0xFFFFu);
}

TEST(TcpFlowBetween, MixedFamiliesWriteIpv4AsMapped) {
  const auto mixed =
      TcpFlow::between(*Endpoint::from_ip("2001:db8::1", 5), *Endpoint::from_ip("127.0.0.1", 9090));
  ASSERT_TRUE(mixed);
  EXPECT_TRUE(mixed->is_v6());
  EXPECT_EQ(mixed->address(TcpSide::kServer),
            std::string(10, '\0') + std::string("\xff\xff\x7f\x00\x00\x01", 6));
  EXPECT_EQ(mixed->port(TcpSide::kServer), 9090);
}

TEST(TcpFlowBetween, UnknownAddressesAreNotCaptured) {
  EXPECT_FALSE(TcpFlow::between(Endpoint(), *Endpoint::from_ip("127.0.0.1", 1)));
}

TEST(TcpPackets, SplitAtTheLargestPayloadAPacketCarries) {
  const TcpFlow ipv4 = flow("10.0.0.1", 1, "10.0.0.2", 2);
  EXPECT_EQ(max_tcp_payload(ipv4), 65495u);
  EXPECT_EQ(max_tcp_payload(flow("::1", 1, "::1", 2)), 65515u);
  std::string payload(150'000, 'z');
  payload[0] = 'a';
  payload.back() = 'b';
  std::vector<std::string> packets;
  append_tcp_packets(
      packets, ipv4,
      {TcpSide::kClient, 0xFFFFFF00u, 77, tcp_flags::kPsh | tcp_flags::kAck, payload},
      max_tcp_payload(ipv4));
  ASSERT_EQ(packets.size(), 3u);
  std::string joined;
  std::uint32_t expected_seq = 0xFFFFFF00u;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const std::string& packet = packets[i];
    EXPECT_LE(packet.size(), 65535u);
    EXPECT_EQ(be16(packet, 2), packet.size());
    EXPECT_EQ(be32(packet, 24), expected_seq) << i;  // wraps past 2^32
    const bool last = i + 1 == packets.size();
    EXPECT_EQ((packet[33] & tcp_flags::kPsh) != 0, last) << i;
    EXPECT_EQ(ones_complement_sum(packet.substr(0, 20)), 0xFFFFu);
    EXPECT_EQ(tcp_sum(packet, false), 0xFFFFu);
    joined += packet.substr(40);
    expected_seq += static_cast<std::uint32_t>(packet.size() - 40);
  }
  EXPECT_EQ(joined, payload);
}

TEST(TcpPackets, EachPieceAcknowledgedByTheOtherEnd) {
  const TcpFlow ipv4 = flow("10.0.0.1", 1, "10.0.0.2", 2);
  std::vector<std::string> packets;
  append_tcp_packets(
      packets, ipv4,
      {TcpSide::kServer, 1000, 500, tcp_flags::kPsh | tcp_flags::kAck, std::string(25, 'r')}, 10,
      /*acknowledged=*/true);
  ASSERT_EQ(packets.size(), 6u);
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string& data = packets[2 * i];
    const std::string& ack = packets[2 * i + 1];
    EXPECT_EQ(be16(data, 20), 2u);  // from the server's port
    EXPECT_EQ(be16(ack, 20), 1u);   // from the client's
    EXPECT_EQ(be32(ack, 24), 500u);
    EXPECT_EQ(be32(ack, 28), be32(data, 24) + (data.size() - 40));
    EXPECT_EQ(static_cast<unsigned char>(ack[33]), tcp_flags::kAck);
    EXPECT_EQ(tcp_sum(ack, false), 0xFFFFu);
  }
}

TEST(TcpPackets, EmptySegmentIsOnePacket) {
  const TcpFlow ipv4 = flow("10.0.0.1", 1, "10.0.0.2", 2);
  std::vector<std::string> packets;
  append_tcp_packets(packets, ipv4, {TcpSide::kServer, 1, 2, tcp_flags::kFin | tcp_flags::kAck, {}},
                     100, true);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(static_cast<unsigned char>(packets[0][33]), tcp_flags::kFin | tcp_flags::kAck);
}

TEST(TcpConversationNumbers, HandshakeDataAndClose) {
  TcpConversation conversation(100, 0xFFFFFFFFu);
  const auto open = conversation.open();
  EXPECT_EQ(open[0].flags, tcp_flags::kSyn);
  EXPECT_EQ(open[0].seq, 100u);
  EXPECT_EQ(open[1].flags, tcp_flags::kSyn | tcp_flags::kAck);
  EXPECT_EQ(open[1].seq, 0xFFFFFFFFu);
  EXPECT_EQ(open[1].ack, 101u);
  EXPECT_EQ(open[2].from, TcpSide::kClient);
  EXPECT_EQ(open[2].seq, 101u);
  EXPECT_EQ(open[2].ack, 0u);  // the server's SYN took its number; wraps

  const TcpSegment hello = conversation.data(TcpSide::kClient, "hello\n");
  EXPECT_EQ(hello.seq, 101u);
  EXPECT_EQ(hello.ack, 0u);
  const TcpSegment ok = conversation.data(TcpSide::kServer, "ok\n");
  EXPECT_EQ(ok.seq, 0u);
  EXPECT_EQ(ok.ack, 107u);
  EXPECT_EQ(conversation.ack(TcpSide::kClient).ack, 3u);

  const TcpSegment client_fin = conversation.fin(TcpSide::kClient);
  EXPECT_EQ(client_fin.seq, 107u);
  EXPECT_TRUE(conversation.has_sent_fin(TcpSide::kClient));
  const TcpSegment server_fin = conversation.fin(TcpSide::kServer);
  EXPECT_EQ(server_fin.seq, 3u);
  EXPECT_EQ(server_fin.ack, 108u);  // the client's FIN took one number
  EXPECT_EQ(conversation.ack(TcpSide::kClient).ack, 4u);
  // A second FIN does not take another number.
  EXPECT_EQ(conversation.fin(TcpSide::kServer).seq, 3u);
  EXPECT_EQ(conversation.reset(TcpSide::kServer).flags, tcp_flags::kRst | tcp_flags::kAck);
}

}  // namespace
}  // namespace tcp_server
