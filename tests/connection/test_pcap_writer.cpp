// --pcap's writer: the file libpcap writes, the size cap, drops when the queue is full, a file
// that cannot be created. The file is read back here by its documented layout (pcap-savefile(5)),
// not through libpcap.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "log_capture.hpp"
#include "pcap_writer.hpp"
#include "server_log.hpp"

namespace tcp_server {
namespace {

struct PcapFile {
  std::uint32_t magic = 0;
  std::uint32_t link_type = 0;
  std::vector<std::string> packets;
};

std::uint32_t le32(const std::string& bytes, std::size_t at) {
  std::uint32_t value = 0;
  std::memcpy(&value, bytes.data() + at, 4);  // written in the host's order (x86: little)
  return value;
}

PcapFile read_pcap(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  PcapFile file;
  if (bytes.size() < 24) return file;
  file.magic = le32(bytes, 0);
  file.link_type = le32(bytes, 20);
  std::size_t at = 24;
  while (at + 16 <= bytes.size()) {
    const std::uint32_t length = le32(bytes, at + 8);
    if (at + 16 + length > bytes.size()) throw std::runtime_error("truncated record");
    file.packets.push_back(bytes.substr(at + 16, length));
    at += 16 + length;
  }
  if (at != bytes.size()) throw std::runtime_error("trailing bytes");
  return file;
}

class PcapWriterTest : public ::testing::Test {
 protected:
  std::string path = (std::filesystem::temp_directory_path() /
                      ("pcap_writer_test_" + std::to_string(::getpid()) + ".pcap"))
                         .string();
  testing::CapturedLog captured;
  ServerLog log{captured.logger()};
  TcpFlow flow = *TcpFlow::between(*Endpoint::from_ip("127.0.0.1", 40000),
                                   *Endpoint::from_ip("127.0.0.1", 9090));

  void TearDown() override { std::filesystem::remove(path); }
};

TEST_F(PcapWriterTest, WritesRawIpPacketsAndFlushes) {
  PcapWriter writer({.path = path}, log);
  TcpConversation conversation(1, 2);
  const auto now = std::chrono::system_clock::now();
  for (const TcpSegment& segment : conversation.open()) writer.record(flow, segment, false, now);
  writer.record(flow, conversation.data(TcpSide::kClient, "hello\n"), true, now);
  writer.flush();
  // Flushed means on disk now, while the writer is still open.
  const PcapFile file = read_pcap(path);
  EXPECT_EQ(file.magic, 0xa1b2c3d4u);
  EXPECT_EQ(file.link_type, 101u);     // LINKTYPE_RAW
  ASSERT_EQ(file.packets.size(), 5u);  // SYN, SYN-ACK, ACK, data, its ACK
  EXPECT_EQ(file.packets[3].substr(40), "hello\n");
  EXPECT_EQ(file.packets[4].size(), 40u);
  EXPECT_EQ(writer.dropped(), 0u);
}

TEST_F(PcapWriterTest, StopsAtTheSizeCapAndSaysSoOnce) {
  // Room for the header and two 40-byte packets (16 + 40 bytes each), not a third.
  PcapWriter writer({.path = path, .max_size = 24 + 2 * 56 + 55}, log);
  TcpConversation conversation(1, 2);
  const auto now = std::chrono::system_clock::now();
  for (int i = 0; i < 3; ++i) {
    for (const TcpSegment& segment : conversation.open()) writer.record(flow, segment, false, now);
  }
  writer.close();
  EXPECT_EQ(read_pcap(path).packets.size(), 2u);
  EXPECT_LE(std::filesystem::file_size(path), 24u + 2 * 56 + 55);
  EXPECT_EQ(captured.lines_containing("reached --pcap-max-size").size(), 1u);
}

TEST_F(PcapWriterTest, AFullQueueDropsAndCountsRatherThanWaiting) {
  PcapWriter writer({.path = path, .max_queued_bytes = 0}, log);
  TcpConversation conversation(1, 2);
  for (int i = 0; i < 100; ++i) {
    writer.record(flow, conversation.data(TcpSide::kClient, "x"), true,
                  std::chrono::system_clock::now());
  }
  EXPECT_EQ(writer.dropped(), 100u);
  writer.close();
  EXPECT_TRUE(read_pcap(path).packets.empty());
  EXPECT_TRUE(captured.wait_for("100 segments not captured"));
}

TEST_F(PcapWriterTest, RecordsAfterCloseAreIgnored) {
  PcapWriter writer({.path = path}, log);
  writer.close();
  TcpConversation conversation(1, 2);
  writer.record(flow, conversation.data(TcpSide::kClient, "late"), true,
                std::chrono::system_clock::now());
  writer.flush();  // returns at once
  EXPECT_TRUE(read_pcap(path).packets.empty());
}

TEST_F(PcapWriterTest, AFileThatCannotBeCreatedIsNamed) {
  try {
    PcapWriter writer({.path = "/nonexistent-directory/capture.pcap"}, log);
    FAIL() << "no error";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("--pcap"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("/nonexistent-directory/capture.pcap"),
              std::string::npos)
        << error.what();
  }
}

TEST_F(PcapWriterTest, AFileThatCannotBeWrittenIsFoundAtStart) {
  try {
    PcapWriter writer({.path = "/dev/full"}, log);
    FAIL() << "no error";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("--pcap /dev/full: cannot write"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace tcp_server
