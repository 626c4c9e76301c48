// --pcap and --log-hex against real sockets, the pcap read back by Wireshark's own dissectors
// (tshark, Debian package tshark): Follow TCP Stream shows exactly the bytes both ways, nothing is
// malformed, checksums are right, IPv6, a PROXY header's client, 200 concurrent clients, the
// drain, the size cap, a file that cannot be written, TLS captured as plaintext.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "running_server.hpp"
#include "subprocess.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

const std::string kBinary = TCP_SERVER_BINARY;
const std::string kTshark = "/usr/bin/tshark";

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("capture_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// Runs tshark to completion; its output, or a test failure when it is missing or fails.
std::string tshark(std::vector<std::string> arguments) {
  if (!std::filesystem::exists(kTshark)) {
    ADD_FAILURE() << kTshark << " is missing: scripts/setup --test installs it";
    return {};
  }
  arguments.insert(arguments.begin(), kTshark);
  const Completed run = run_to_completion(arguments, 60s);
  EXPECT_EQ(run.status, 0) << run.err;
  return run.out;
}

std::string unhex(const std::string& hex) {
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return bytes;
}

struct Conversation {
  std::string client_node;  // "127.0.0.1:51528"
  std::string server_node;
  std::string from_client;
  std::string from_server;
};

// `tshark -q -z follow,tcp,raw,N`: node 0 is the client (it sent the SYN); its bytes are the
// lines without a leading tab, the server's those with one.
Conversation follow(const std::string& file, int stream) {
  std::istringstream out(
      tshark({"-r", file, "-q", "-z", "follow,tcp,raw," + std::to_string(stream)}));
  Conversation conversation;
  std::string line;
  bool in_data = false;
  while (std::getline(out, line)) {
    if (line.rfind("Node 0: ", 0) == 0) conversation.client_node = line.substr(8);
    if (line.rfind("Node 1: ", 0) == 0) {
      conversation.server_node = line.substr(8);
      in_data = true;
      continue;
    }
    if (!in_data || line.rfind("=====", 0) == 0) continue;
    if (!line.empty() && line[0] == '\t') {
      conversation.from_server += unhex(line.substr(1));
    } else {
      conversation.from_client += unhex(line);
    }
  }
  return conversation;
}

// Packets tshark finds malformed, with a warning or error, or with a bad checksum (checksums are
// only verified when asked).
std::string suspicious_packets(const std::string& file) {
  return tshark({"-r", file, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-Y",
                 "_ws.malformed || _ws.expert.severity >= \"warning\" || ip.checksum.status != 1 "
                 "|| tcp.checksum.status != 1"});
}

std::set<std::string> stream_numbers(const std::string& file) {
  std::istringstream out(tshark({"-r", file, "-T", "fields", "-e", "tcp.stream"}));
  std::set<std::string> streams;
  std::string line;
  while (std::getline(out, line)) streams.insert(line);
  return streams;
}

class Capture : public ::testing::Test {
 protected:
  std::string pcap = temp_path("capture.pcap");
  void TearDown() override { std::filesystem::remove(pcap); }

  ServerConfig config(const char* host = "127.0.0.1") {
    ServerConfig made = loopback_config();
    made.listen.host = host;
    made.pcap_file = pcap;
    return made;
  }
};

TEST_F(Capture, FollowTcpStreamShowsExactlyTheBytesBothWays) {
  const std::string sent =
      std::string("hello\n") + std::string("\x00\x01\xff\x7f binary\n", 12) + "partial";
  std::string client_node;
  {
    ServerConfig echo = config();
    echo.mode = ReplyMode::kEcho;
    RunningServer running(echo);
    TestClient client(running.endpoint());
    client_node = client.local().to_string();
    client.send(sent);
    EXPECT_EQ(client.read_exactly(sent.size()), sent);
    client.shutdown_write();
    EXPECT_TRUE(client.wait_for_close());
    running.stop_and_join();
  }
  const Conversation conversation = follow(pcap, 0);
  EXPECT_EQ(conversation.client_node, client_node);
  EXPECT_EQ(conversation.from_client, sent);
  EXPECT_EQ(conversation.from_server, sent);
  EXPECT_EQ(suspicious_packets(pcap), "");
  // The ascii view the README shows, too.
  const std::string ascii = tshark({"-r", pcap, "-q", "-z", "follow,tcp,ascii,0"});
  EXPECT_NE(ascii.find("hello\n"), std::string::npos) << ascii;
}

// The capture is taken outside TLS: what the connection read and wrote, never the records.
TEST_F(Capture, TlsIsCapturedAsThePlaintextConversation) {
  std::string client_output;
  {
    ServerConfig tls = config();
    tls.tls.self_signed = true;
    RunningServer running(tls);
    const Completed client = run_to_completion(
        {"/usr/bin/python3",
         std::string(TCP_SERVER_SOURCE_DIR) + "/tests/integration/tls_client.py",
         std::to_string(running.endpoint().port()), "--send", "alpha", "--send", "beta"},
        30s);
    client_output = client.out;
    EXPECT_EQ(client.status, 0) << client.out << client.err;
    EXPECT_NE(client.out.find("connected TLSv1.3"), std::string::npos) << client.out;
    EXPECT_TRUE(running.log().wait_for("disconnected"));
    running.stop_and_join();
  }
  const Conversation conversation = follow(pcap, 0);
  EXPECT_EQ(conversation.from_client, "alpha\nbeta\n") << client_output;
  EXPECT_EQ(conversation.from_server, "ok\nok\n");
  EXPECT_EQ(suspicious_packets(pcap), "");
  const std::string ascii = tshark({"-r", pcap, "-q", "-z", "follow,tcp,ascii,0"});
  EXPECT_NE(ascii.find("alpha"), std::string::npos) << ascii;
}

TEST_F(Capture, AcksAndCloseInOrder) {
  {
    RunningServer running(config());
    TestClient client(running.endpoint());
    client.send("one\ntwo\n");
    EXPECT_EQ(client.read_exactly(6), "ok\nok\n");
    client.shutdown_write();
    EXPECT_TRUE(client.wait_for_close());
    running.stop_and_join();
  }
  const Conversation conversation = follow(pcap, 0);
  EXPECT_EQ(conversation.from_client, "one\ntwo\n");
  EXPECT_EQ(conversation.from_server, "ok\nok\n");
  // SYN, SYN-ACK, ACK first; FIN from each side; tshark's own view of the handshake.
  const std::string flags = tshark({"-r", pcap, "-T", "fields", "-e", "tcp.flags.str"});
  EXPECT_EQ(flags.substr(0, flags.find('\n', flags.find('\n', flags.find('\n') + 1) + 1)),
            "··········S·\n·······A··S·\n·······A····");
  const std::string fins =
      tshark({"-r", pcap, "-Y", "tcp.flags.fin == 1", "-T", "fields", "-e", "tcp.srcport"});
  EXPECT_EQ(std::count(fins.begin(), fins.end(), '\n'), 2) << fins;
  EXPECT_EQ(suspicious_packets(pcap), "");
}

TEST_F(Capture, Ipv6Loopback) {
  std::string client_node;
  {
    RunningServer running(config("::1"));
    TestClient client(running.endpoint());
    client_node = client.local().to_string();
    client.send("over six\n");
    EXPECT_EQ(client.read_line(), "ok\n");
    client.shutdown_write();
    EXPECT_TRUE(client.wait_for_close());
    running.stop_and_join();
  }
  const std::string sources = tshark({"-r", pcap, "-T", "fields", "-e", "ipv6.src"});
  EXPECT_NE(sources.find("::1\n"), std::string::npos) << sources;
  const Conversation conversation = follow(pcap, 0);
  EXPECT_EQ(conversation.client_node, client_node);
  EXPECT_EQ(conversation.from_client, "over six\n");
  EXPECT_EQ(conversation.from_server, "ok\n");
  EXPECT_EQ(suspicious_packets(pcap), "");
}

TEST_F(Capture, TheClientAProxyHeaderNamesWithoutTheHeader) {
  {
    ServerConfig proxied = config();
    proxied.proxy_protocol = ProxyVersions::kV1;
    proxied.trusted_proxies.push_back(*Cidr::parse("127.0.0.1/32"));
    RunningServer running(proxied);
    TestClient proxy(running.endpoint());
    proxy.send("PROXY TCP4 203.0.113.7 127.0.0.1 5555 9090\r\nhello\n");
    EXPECT_EQ(proxy.read_line(), "ok\n");
    proxy.shutdown_write();
    EXPECT_TRUE(proxy.wait_for_close());
    running.stop_and_join();
  }
  const Conversation conversation = follow(pcap, 0);
  EXPECT_EQ(conversation.client_node, "203.0.113.7:5555");
  EXPECT_EQ(conversation.from_client, "hello\n");
  EXPECT_EQ(suspicious_packets(pcap), "");
}

TEST_F(Capture, AClientResetShowsAsItsRst) {
  std::uint16_t client_port = 0;
  {
    RunningServer running(config());
    TestClient client(running.endpoint());
    client_port = client.local().port();
    client.send("bye\n");
    EXPECT_EQ(client.read_line(), "ok\n");
    client.reset();
    EXPECT_TRUE(running.log().wait_for("disconnected"));
    running.stop_and_join();
  }
  const std::string resets =
      tshark({"-r", pcap, "-Y", "tcp.flags.reset == 1", "-T", "fields", "-e", "tcp.srcport"});
  EXPECT_EQ(resets, std::to_string(client_port) + "\n");
}

TEST_F(Capture, TwoHundredConcurrentClientsAreTwoHundredStreams) {
  constexpr int kClients = 200;
  {
    RunningServer running(config());
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.push_back(std::make_unique<TestClient>(running.endpoint()));
      clients.back()->send("client " + std::to_string(i) + "\n");
    }
    // All connected at once before any leaves.
    for (auto& client : clients) EXPECT_EQ(client->read_line(), "ok\n");
    clients.clear();
    running.stop_and_join();
  }
  EXPECT_EQ(stream_numbers(pcap).size(), static_cast<std::size_t>(kClients));
  EXPECT_EQ(suspicious_packets(pcap), "");
}

// The real binary: SIGTERM drains an idle client; the file then holds its whole conversation,
// the server's FIN included.
TEST_F(Capture, TheDrainFlushesTheFile) {
  Subprocess server({kBinary, "--host", "127.0.0.1", "--port", "0", "--pcap", pcap});
  const std::uint16_t port = announced_port(server);
  TestClient client(*Endpoint::from_ip("127.0.0.1", port));
  client.send("still here\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  server.send_signal(SIGTERM);
  EXPECT_TRUE(client.wait_for_close());
  EXPECT_EQ(server.wait_for_exit(20s), 0) << server.stderr_text();
  const Conversation conversation = follow(pcap, 0);
  EXPECT_EQ(conversation.from_client, "still here\n");
  EXPECT_EQ(conversation.from_server, "ok\n");
  const std::string fins =
      tshark({"-r", pcap, "-Y", "tcp.flags.fin == 1", "-T", "fields", "-e", "tcp.srcport"});
  EXPECT_EQ(fins, std::to_string(port) + "\n");
}

TEST_F(Capture, PcapMaxSizeStopsAtTheCap) {
  Subprocess server(
      {kBinary, "--host", "127.0.0.1", "--port", "0", "--pcap", pcap, "--pcap-max-size", "1KiB"});
  const std::uint16_t port = announced_port(server);
  for (int i = 0; i < 20; ++i) {
    TestClient client(*Endpoint::from_ip("127.0.0.1", port));
    client.send(std::string(100, 'x') + "\n");
    EXPECT_EQ(client.read_line(), "ok\n");
  }
  EXPECT_TRUE(server.wait_for_stdout_line("reached --pcap-max-size", 10s));
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait_for_exit(20s), 0);
  EXPECT_LE(std::filesystem::file_size(pcap), 1024u);
  EXPECT_GT(std::filesystem::file_size(pcap), 24u);
  // What is there is whole packets tshark reads.
  EXPECT_EQ(suspicious_packets(pcap), "");
  std::size_t said = 0;
  std::istringstream out(server.stdout_text());
  for (std::string line; std::getline(out, line);) {
    said += line.find("reached --pcap-max-size") != std::string::npos;
  }
  EXPECT_EQ(said, 1u);
}

TEST_F(Capture, AFileThatCannotBeWrittenStopsTheStart) {
  const Completed run = run_to_completion(
      {kBinary, "--host", "127.0.0.1", "--port", "0", "--pcap", "/nonexistent-dir/x.pcap"});
  EXPECT_NE(run.status, 0);
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_NE(run.err.find("/nonexistent-dir/x.pcap"), std::string::npos) << run.err;
}

TEST(LogHex, TextLogShowsAHexDump) {
  ServerConfig config = loopback_config();
  config.log_hex = true;
  RunningServer running(config);
  TestClient client(running.endpoint());
  // An escape sequence (clear screen), CR and a byte that is not UTF-8: only dots in the dump.
  client.send(std::string("\x00\x1b[2Jhi\r\xff\n", 10));
  EXPECT_EQ(client.read_line(), "ok\n");
  ASSERT_TRUE(running.log().wait_for("9 bytes:"));
  const std::string line = running.log().lines_containing("9 bytes:").front();
  EXPECT_EQ(line, client.local().to_string() + " 9 bytes:\n  00000000: 001b 5b32 4a68 690d ff" +
                      std::string(19, ' ') + "..[2Jhi..");
}

TEST(LogHex, JsonLogHasPayloadHex) {
  ServerConfig config = loopback_config();
  config.log_hex = true;
  config.log_format = LogFormat::kJson;
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send(std::string("\x00\x01\xfe\n", 4));
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_TRUE(running.log().wait_for(R"("payload_hex":"0001fe")"));
  EXPECT_TRUE(running.log().lines_containing(R"("payload":)").empty());
}

TEST(LogHex, RespectsLogPayloadMax) {
  ServerConfig config = loopback_config();
  config.log_hex = true;
  config.log_payload_max = 4;
  RunningServer running(config);
  TestClient client(running.endpoint());
  client.send("abcdefgh\n");
  EXPECT_EQ(client.read_line(), "ok\n");
  EXPECT_TRUE(running.log().wait_for("8 bytes:\n  00000000: 6162 6364"));
  EXPECT_TRUE(running.log().wait_for("\n  ...(+4 bytes)"));
}

}  // namespace
}  // namespace tcp_server::testing
