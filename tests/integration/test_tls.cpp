// TLS (--tls-*) against TLS clients no one here wrote: openssl s_client, gnutls-cli, ncat --ssl,
// socat OPENSSL: and Python's ssl module (tls_client.py), with certificates made by the openssl
// CLI in the test. Hostile clients (plaintext, HTTP, silent, random bytes, resets) are refused
// without disturbing the others; idle timeout, drain and HAProxy's PROXY v2 work over TLS.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "eventually.hpp"
#include "free_port.hpp"
#include "running_server.hpp"
#include "subprocess.hpp"
#include "temp_dir.hpp"
#include "test_client.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

const std::string kServerBinary = TCP_SERVER_BINARY;
const std::string kPythonClient =
    std::string(TCP_SERVER_SOURCE_DIR) + "/tests/integration/tls_client.py";

// A program (found on PATH) with its stdin, and its stdout and stderr merged, on pipes. Every wait
// is bounded; the destructor kills (SIGKILL, its own pid only) and reaps it if still running.
class Peer {
 public:
  explicit Peer(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {  // only async-signal-safe calls from here
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(out[1], STDERR_FILENO);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    // The read end of stdin stays open here too, so that writing to a child that has exited
    // fills a pipe instead of raising SIGPIPE in the test.
    stdin_read_ = UniqueFd(in[0]);
    stdin_ = UniqueFd(in[1]);
    ::close(out[1]);
    stdout_ = UniqueFd(out[0]);
  }
  ~Peer() {
    if (reaped_) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  void write(std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::write(stdin_.get(), text.data(), text.size());
      if (n <= 0) throw std::runtime_error("cannot write to the client's stdin");
      text.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // End of input for the child.
  void close_stdin() { stdin_.reset(); }

  // True once the output holds count lines that are exactly line ('\r' ignored).
  bool wait_for_lines(const std::string& line, std::size_t count,
                      std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (count_lines(line) >= count) return true;
      if (!read_some(deadline)) return count_lines(line) >= count;
    }
  }

  // The exit status (128 + signal when killed), once its output has ended; nullopt on timeout.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (read_some(deadline)) {
    }
    int status = 0;
    const bool exited = eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; },
                                   std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::max(deadline - std::chrono::steady_clock::now(),
                                                std::chrono::steady_clock::duration(1ms))));
    if (!exited) return std::nullopt;
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  [[nodiscard]] const std::string& output() const { return output_; }

 private:
  // Reads what arrives before deadline; false at end of output or deadline.
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    if (!stdout_) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd readable{stdout_.get(), POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[4096];
    const ssize_t n = ::read(stdout_.get(), buffer, sizeof buffer);
    if (n <= 0) {
      stdout_.reset();
      return false;
    }
    output_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  std::size_t count_lines(const std::string& line) const {
    std::istringstream lines(output_);
    std::size_t count = 0;
    for (std::string text; std::getline(lines, text);) {
      if (!text.empty() && text.back() == '\r') text.pop_back();
      if (text == line) ++count;
    }
    return count;
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  UniqueFd stdin_read_;
  UniqueFd stdin_;
  UniqueFd stdout_;
  std::string output_;
};

// Runs a command to completion; throws with its output when it fails.
void run(const std::vector<std::string>& argv) {
  Peer command(argv);
  const auto status = command.wait_for_exit(60s);
  if (status != 0) {
    throw std::runtime_error(argv[0] + " " + argv[1] + " failed: " + command.output());
  }
}

struct CertificateFiles {
  std::string cert;
  std::string key;
};

// A self-signed certificate for localhost and 127.0.0.1, its key made by `openssl req -newkey
// <key_type>` (rsa:2048, ec with P-256, ed25519).
CertificateFiles make_server_certificate(const TempDir& dir, const std::string& key_type) {
  const std::string name = key_type.substr(0, key_type.find(':'));
  CertificateFiles files{dir.path(name + ".pem"), dir.path(name + ".key")};
  std::vector<std::string> argv{
      "openssl", "req",           "-x509",   "-newkey",
      key_type,  "-nodes",        "-keyout", files.key,
      "-out",    files.cert,      "-days",   "2",
      "-subj",   "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"};
  if (key_type == "ec") {
    argv.insert(argv.begin() + 5, {"-pkeyopt", "ec_paramgen_curve:P-256"});
  }
  run(argv);
  return files;
}

// A throwaway CA (name) and a client certificate it signed (CN client, SAN DNS:client.example).
struct ClientCertificate {
  std::string ca;
  CertificateFiles client;
};

ClientCertificate make_client_certificate(const TempDir& dir, const std::string& ca_name,
                                          const std::string& client) {
  ClientCertificate made{dir.path(ca_name + ".pem"),
                         {dir.path(client + ".pem"), dir.path(client + ".key")}};
  const std::string ca_key = dir.path(ca_name + ".key");
  run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", ca_key, "-out", made.ca, "-days", "2", "-subj", "/CN=" + ca_name});
  const std::string request = dir.path(client + ".csr");
  run({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", made.client.key, "-out", request, "-subj", "/CN=" + client});
  const std::string extensions = dir.file(
      client + ".ext", "subjectAltName=DNS:" + client + ".example\nextendedKeyUsage=clientAuth\n");
  run({"openssl", "x509", "-req", "-in", request, "-CA", made.ca, "-CAkey", ca_key,
       "-CAcreateserial", "-out", made.client.cert, "-days", "2", "-extfile", extensions});
  return made;
}

ServerConfig self_signed_config() {
  ServerConfig config = loopback_config();
  config.tls.self_signed = true;
  return config;
}

std::string port_of(const RunningServer& running) {
  return std::to_string(running.endpoint().port());
}

// The fingerprint the listening line gives.
std::string printed_fingerprint(const RunningServer& running) {
  const auto lines = running.log().lines_containing("certificate SHA-256 ");
  if (lines.empty()) return {};
  const std::string& line = lines.front();
  const std::size_t start = line.find("SHA-256 ") + 8;
  return line.substr(start, line.find(' ', start) - start);
}

std::vector<std::string> python_client(const RunningServer& running,
                                       std::vector<std::string> options) {
  std::vector<std::string> argv{"python3", kPythonClient, port_of(running)};
  argv.insert(argv.end(), options.begin(), options.end());
  return argv;
}

std::uint64_t tls_rejections(const RunningServer& running) {
  return const_cast<RunningServer&>(running).server().stats().rejected[static_cast<std::size_t>(
      RejectReason::kTls)];
}

// Served: each line answered, each logged. The client sends "alpha" and "beta".
void expect_served(RunningServer& running, Peer& client) {
  EXPECT_TRUE(client.wait_for_lines("ok", 2)) << client.output();
  EXPECT_TRUE(running.log().wait_for(" alpha"));
  EXPECT_TRUE(running.log().wait_for(" beta"));
}

// A self-signed server writing its certificate where the clients can trust it.
struct SelfSigned {
  TempDir dir;
  std::string cert = dir.path("server.pem");
  RunningServer running{[&] {
    ServerConfig config = self_signed_config();
    config.tls.cert_out_path = cert;
    return config;
  }()};
};

TEST(TlsClients, OpensslSClientIsServed) {
  SelfSigned server;
  Peer client({"openssl", "s_client", "-connect", "127.0.0.1:" + port_of(server.running), "-CAfile",
               server.cert, "-verify_return_error", "-quiet"});
  client.write("alpha\nbeta\n");
  expect_served(server.running, client);
}

TEST(TlsClients, GnutlsCliIsServed) {
  SelfSigned server;
  // gnutls-cli checks the name too: localhost is in the generated certificate.
  Peer client(
      {"gnutls-cli", "--x509cafile", server.cert, "-p", port_of(server.running), "localhost"});
  client.write("alpha\nbeta\n");
  expect_served(server.running, client);
}

TEST(TlsClients, NcatSslIsServed) {
  SelfSigned server;
  Peer client({"ncat", "--ssl", "127.0.0.1", port_of(server.running)});
  client.write("alpha\nbeta\n");
  expect_served(server.running, client);
}

TEST(TlsClients, SocatOpensslIsServed) {
  SelfSigned server;
  Peer client(
      {"socat", "-", "OPENSSL:127.0.0.1:" + port_of(server.running) + ",cafile=" + server.cert});
  client.write("alpha\nbeta\n");
  expect_served(server.running, client);
}

TEST(TlsClients, PythonSslIsServedAndTheSessionIsLoggedAtDebug) {
  SelfSigned server;
  server.running.log().logger()->set_level(spdlog::level::debug);
  Peer client(python_client(server.running, {"--ca", server.cert, "--alpn", "echo-test", "--send",
                                             "alpha", "--send", "beta"}));
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  expect_served(server.running, client);
  EXPECT_TRUE(server.running.log().wait_for("tls: TLSv1.3 "));
  EXPECT_TRUE(server.running.log().wait_for(", SNI localhost, ALPN echo-test"));
}

TEST(TlsClients, OpensslSClientResumesItsSessionByTicket) {
  SelfSigned server;
  const std::string session = server.dir.path("session.pem");
  for (const std::string version : {"-tls1_3", "-tls1_2"}) {
    SCOPED_TRACE(version);
    // Without -quiet, s_client ends at the end of its input, writing the session it was given.
    Peer first({"openssl", "s_client", version, "-connect", "127.0.0.1:" + port_of(server.running),
                "-sess_out", session});
    first.write("alpha\n");
    ASSERT_TRUE(first.wait_for_lines("ok", 1)) << first.output();
    first.close_stdin();
    ASSERT_EQ(first.wait_for_exit(), 0) << first.output();

    Peer second({"openssl", "s_client", version, "-connect", "127.0.0.1:" + port_of(server.running),
                 "-sess_in", session});
    second.write("beta\n");
    ASSERT_TRUE(second.wait_for_lines("ok", 1)) << second.output();
    second.close_stdin();
    EXPECT_EQ(second.wait_for_exit(), 0);
    EXPECT_NE(second.output().find("Reused, TLSv1."), std::string::npos) << second.output();
  }
}

TEST(TlsCertificates, RsaEcdsaAndEd25519KeysFromFilesAreServed) {
  TempDir dir;
  for (const std::string key_type : {"rsa:2048", "ec", "ed25519"}) {
    SCOPED_TRACE(key_type);
    const CertificateFiles files = make_server_certificate(dir, key_type);
    ServerConfig config = loopback_config();
    config.tls.cert_path = files.cert;
    config.tls.key_path = files.key;
    RunningServer running(config);
    Peer client(python_client(running, {"--ca", files.cert, "--send", "alpha", "--send", "beta"}));
    EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
    expect_served(running, client);
  }
}

TEST(TlsCertificates, APinnedFingerprintMatchesOnlyTheServerThatPrintedIt) {
  RunningServer first(self_signed_config());
  RunningServer second(self_signed_config());
  const std::string pin = printed_fingerprint(first);
  ASSERT_EQ(pin.size(), 95u) << pin;            // 32 bytes as "AB:" pairs
  EXPECT_NE(printed_fingerprint(second), pin);  // a fresh key and certificate each start

  Peer pinned(python_client(first, {"--pin", pin, "--send", "pinned"}));
  EXPECT_EQ(pinned.wait_for_exit(), 0) << pinned.output();
  EXPECT_TRUE(pinned.wait_for_lines("ok", 1)) << pinned.output();

  Peer mismatched(python_client(second, {"--pin", pin, "--send", "pinned"}));
  EXPECT_EQ(mismatched.wait_for_exit(), 3) << mismatched.output();
  EXPECT_TRUE(mismatched.wait_for_lines("pin mismatch", 1));
}

// Mutual TLS with throwaway CAs: alice's certificate is signed by the CA the server trusts,
// mallory's by another.
struct MutualTls {
  TempDir dir;
  ClientCertificate alice = make_client_certificate(dir, "trusted-ca", "alice");
  ClientCertificate mallory = make_client_certificate(dir, "other-ca", "mallory");

  ServerConfig config(std::optional<ClientVerification> verification = std::nullopt) const {
    ServerConfig made = self_signed_config();
    made.tls.client_ca_path = alice.ca;
    made.tls.verify_client = verification;
    return made;
  }
};

TEST(TlsMutual, AClientWithACertificateTheCaSignedIsServedAndNamed) {
  MutualTls mtls;
  RunningServer running(mtls.config());
  Peer client(python_client(running, {"--cert", mtls.alice.client.cert, "--key",
                                      mtls.alice.client.key, "--send", "alpha", "--send", "beta"}));
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  expect_served(running, client);
  EXPECT_TRUE(
      running.log().wait_for("connected (client certificate CN=alice, SAN DNS:alice.example)"));
}

TEST(TlsMutual, OpensslSClientWithACertificateIsServed) {
  MutualTls mtls;
  RunningServer running(mtls.config());
  Peer client({"openssl", "s_client", "-connect", "127.0.0.1:" + port_of(running), "-cert",
               mtls.alice.client.cert, "-key", mtls.alice.client.key, "-quiet"});
  client.write("alpha\nbeta\n");
  expect_served(running, client);
  EXPECT_TRUE(running.log().wait_for("(client certificate CN=alice,"));
}

TEST(TlsMutual, AClientWithoutACertificateIsRefused) {
  MutualTls mtls;
  RunningServer running(mtls.config());
  Peer client(python_client(running, {"--send", "alpha"}));
  EXPECT_EQ(client.wait_for_exit(), 2) << client.output();
  EXPECT_TRUE(running.log().wait_for("rejected: tls (no client certificate)"));
  EXPECT_TRUE(running.log().lines_containing(" alpha").empty());
}

TEST(TlsMutual, AClientWithACertificateFromAnotherCaIsRefused) {
  MutualTls mtls;
  RunningServer running(mtls.config());
  Peer client(python_client(running, {"--cert", mtls.mallory.client.cert, "--key",
                                      mtls.mallory.client.key, "--send", "alpha"}));
  EXPECT_EQ(client.wait_for_exit(), 2) << client.output();
  EXPECT_TRUE(running.log().wait_for("rejected: tls (client certificate not accepted: "));
  EXPECT_TRUE(running.log().lines_containing(" alpha").empty());
}

TEST(TlsMutual, OptionalVerificationServesAClientWithoutACertificate) {
  MutualTls mtls;
  RunningServer running(mtls.config(ClientVerification::kOptional));
  Peer client(python_client(running, {"--send", "alpha", "--send", "beta"}));
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  expect_served(running, client);
}

TEST(TlsVersions, ATls11ClientIsRefused) {
  RunningServer running(self_signed_config());
  Peer client(python_client(running, {"--version", "1.1", "--send", "alpha"}));
  EXPECT_EQ(client.wait_for_exit(), 2) << client.output();
  EXPECT_TRUE(running.log().wait_for("rejected: tls (unsupported protocol)"));
}

TEST(TlsVersions, MinVersion13RefusesA12OnlyClientAndServesA13One) {
  ServerConfig config = self_signed_config();
  config.tls.min_version = TlsVersion::k1_3;
  RunningServer running(config);
  Peer old_client(python_client(running, {"--version", "1.2", "--send", "alpha"}));
  EXPECT_EQ(old_client.wait_for_exit(), 2) << old_client.output();
  EXPECT_TRUE(running.log().wait_for("rejected: tls (unsupported protocol)"));

  Peer client(python_client(running, {"--version", "1.3", "--send", "alpha", "--send", "beta"}));
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  expect_served(running, client);
}

TEST(TlsVersions, Tls12IsServedByDefault) {
  RunningServer running(self_signed_config());
  Peer client(python_client(running, {"--version", "1.2", "--send", "alpha", "--send", "beta"}));
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  EXPECT_TRUE(client.wait_for_lines("connected TLSv1.2", 1)) << client.output();
  expect_served(running, client);
}

// After a hostile client: a well-behaved one is still served.
void expect_still_serving(RunningServer& running) {
  Peer client(python_client(running, {"--send", "alpha", "--send", "beta"}));
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  expect_served(running, client);
}

TEST(TlsHostile, PlaintextLinesAreRefusedAndClosed) {
  RunningServer running(self_signed_config());
  TestClient plain(running.endpoint());
  plain.send("hello\n");
  EXPECT_TRUE(plain.wait_for_close());
  EXPECT_TRUE(running.log().wait_for("rejected: tls (plaintext?)"));
  EXPECT_TRUE(running.log().lines_containing(" hello").empty());
  expect_still_serving(running);
}

TEST(TlsHostile, AnHttpRequestIsRefusedAsPlaintextHttp) {
  RunningServer running(self_signed_config());
  TestClient http(running.endpoint());
  http.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_TRUE(http.wait_for_close());
  EXPECT_TRUE(running.log().wait_for("rejected: tls (plaintext HTTP request?)"));
  expect_still_serving(running);
}

TEST(TlsHostile, SilentConnectionsAreClosedByTheHandshakeTimeoutWhileOthersAreServed) {
  constexpr std::size_t kSilent = 200;
  ServerConfig config = self_signed_config();
  config.tls.handshake_timeout = 8s;
  RunningServer running(config);
  std::vector<std::unique_ptr<TestClient>> silent;
  for (std::size_t i = 0; i < kSilent; ++i) {
    silent.push_back(std::make_unique<TestClient>(running.endpoint(), 20s));
  }
  expect_still_serving(running);
  // Served while every silent one was still waiting for its handshake.
  EXPECT_EQ(tls_rejections(running), 0u);
  for (auto& client : silent) EXPECT_TRUE(client->wait_for_close(20s));
  EXPECT_TRUE(eventually([&] { return tls_rejections(running) == kSilent; }));
  EXPECT_TRUE(running.log().wait_for("rejected: tls (no handshake within 8.0 s)"));
}

TEST(TlsHostile, RandomBytesAfterAValidClientHelloAreRefused) {
  RunningServer running(self_signed_config());
  Peer hostile(python_client(running, {"--hello-then", "random"}));
  EXPECT_EQ(hostile.wait_for_exit(), 0) << hostile.output();
  EXPECT_TRUE(running.log().wait_for("rejected: tls ("));
  expect_still_serving(running);
}

TEST(TlsHostile, AClientResettingMidHandshakeIsRefused) {
  RunningServer running(self_signed_config());
  Peer hostile(python_client(running, {"--hello-then", "reset"}));
  EXPECT_EQ(hostile.wait_for_exit(), 0) << hostile.output();
  EXPECT_TRUE(running.log().wait_for("rejected: tls (reset during the handshake)"));
  expect_still_serving(running);
}

TEST(TlsTimeouts, AnIdleTlsClientIsClosedWithCloseNotify) {
  ServerConfig config = self_signed_config();
  config.idle_timeout = 300ms;
  RunningServer running(config);
  Peer client(python_client(running, {"--send", "alpha", "--wait-close"}));
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  EXPECT_TRUE(client.wait_for_lines("close_notify", 1)) << client.output();
  EXPECT_TRUE(running.log().wait_for("(idle timeout: nothing received for"));
}

TEST(TlsTimeouts, TheDrainClosesAnIdleTlsClientWithCloseNotify) {
  RunningServer running(self_signed_config());
  Peer client(python_client(running, {"--send", "alpha", "--wait-close"}));
  ASSERT_TRUE(client.wait_for_lines("ok", 1)) << client.output();
  running.server().stop();
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  EXPECT_TRUE(client.wait_for_lines("close_notify", 1)) << client.output();
  EXPECT_TRUE(running.log().wait_for("1 message, 6 bytes in (shutdown)"));
}

TEST(TlsTimeouts, TheDrainDeadlineEndsAHandshakeInProgress) {
  ServerConfig config = self_signed_config();
  config.drain_timeout = 200ms;
  config.tls.handshake_timeout = 60s;  // far beyond the drain: only the drain can end it
  RunningServer running(config);
  TestClient silent(running.endpoint());
  ASSERT_TRUE(eventually([&] { return running.server().stats().accepted == 1; }));
  running.stop_and_join();
  EXPECT_TRUE(silent.wait_for_close());
  EXPECT_TRUE(running.log().wait_for("rejected: tls (the server is shutting down)"));
}

TEST(TlsProxy, HaproxySendProxyV2InFrontOfTlsGivesTheClientsAddress) {
  ServerConfig config = self_signed_config();
  config.proxy_protocol = ProxyVersions::kV2;
  config.trusted_proxies.push_back(*Cidr::parse("127.0.0.1/32"));
  RunningServer running(config);
  TempDir dir;
  std::unique_ptr<Subprocess> haproxy;
  std::uint16_t port = 0;
  for (int attempt = 0; attempt < 5 && !haproxy; ++attempt) {
    port = kernel_chosen_free_port();
    const std::string haproxy_config =
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n"
        "  timeout server 30s\nfrontend front\n  bind 127.0.0.1:" +
        std::to_string(port) + "\n  default_backend servers\nbackend servers\n  server s0 " +
        running.endpoint().to_string() + " send-proxy-v2\n";
    auto started = std::make_unique<Subprocess>(std::vector<std::string>{
        "/usr/sbin/haproxy", "-db", "-f", dir.file("haproxy.cfg", haproxy_config)});
    const bool listening = eventually(
        [&] {
          if (started->wait_for_exit(0ms).has_value()) return true;
          std::error_code error;
          return connect_to(*Endpoint::from_ip("127.0.0.1", port), 1s, error).valid();
        },
        10s);
    if (listening && !started->wait_for_exit(0ms).has_value()) haproxy = std::move(started);
  }
  ASSERT_TRUE(haproxy) << "could not start /usr/sbin/haproxy";
  Peer client({"python3", kPythonClient, std::to_string(port), "--source", "127.0.0.5", "--send",
               "through the proxy"});
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  EXPECT_TRUE(client.wait_for_lines("ok", 1)) << client.output();
  const auto lines = running.log().lines_containing(" through the proxy");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines.front().find("127.0.0.5:"), std::string::npos) << lines.front();
}

// Start errors: one line naming the option and file, and a non-zero exit.
std::string start_error(const std::vector<std::string>& tls_options) {
  std::vector<std::string> argv{kServerBinary, "--host", "127.0.0.1", "--port", "0"};
  argv.insert(argv.end(), tls_options.begin(), tls_options.end());
  Subprocess server(argv);
  const auto status = server.wait_for_exit(20s);
  EXPECT_TRUE(status.has_value() && *status != 0);
  return server.stderr_text();
}

TEST(TlsStartErrors, EachFileProblemIsOneLineNamingTheFile) {
  TempDir dir;
  const CertificateFiles ec = make_server_certificate(dir, "ec");
  const CertificateFiles ed = make_server_certificate(dir, "ed25519");
  const std::string not_pem = dir.file("not.pem", "hello\n");
  const std::string missing = dir.path("missing.pem");
  const auto expect_line = [](const std::string& stderr_text, const std::string& words) {
    EXPECT_NE(stderr_text.find(words), std::string::npos) << stderr_text;
    EXPECT_EQ(std::count(stderr_text.begin(), stderr_text.end(), '\n'), 1) << stderr_text;
  };
  expect_line(start_error({"--tls-cert", missing, "--tls-key", ec.key}),
              "--tls-cert " + missing + ": cannot read: No such file or directory");
  expect_line(start_error({"--tls-cert", not_pem, "--tls-key", ec.key}),
              "--tls-cert " + not_pem + ": not a PEM certificate");
  expect_line(start_error({"--tls-cert", ec.cert, "--tls-key", not_pem}),
              "--tls-key " + not_pem + ": not a PEM private key");
  expect_line(start_error({"--tls-cert", ec.key, "--tls-key", ec.key}),
              "--tls-cert " + ec.key + ": holds a private key, not a certificate");
  expect_line(start_error({"--tls-cert", ec.cert, "--tls-key", ed.key}),
              "--tls-key " + ed.key + ": does not match the certificate in --tls-cert " + ec.cert);
  expect_line(start_error({"--tls-self-signed", "--tls-client-ca", not_pem}),
              "--tls-client-ca " + not_pem + ": not a PEM certificate");
}

TEST(TlsStartErrors, AnExpiredCertificateIsAWarningAndStillServed) {
  TempDir dir;
  const std::string cert = dir.path("expired.pem");
  const std::string key = dir.path("expired.key");
  const std::string request = dir.path("expired.csr");
  // `openssl ca` is the CLI's one way to give a certificate dates in the past.
  dir.file("index.txt", "");
  dir.file("serial", "01\n");
  const std::string ca_config = dir.file(
      "ca.cnf", "[ca]\ndefault_ca = test\n[test]\ndatabase = " + dir.path("index.txt") +
                    "\nnew_certs_dir = " + dir.path("") + "\nserial = " + dir.path("serial") +
                    "\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n");
  run({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", key, "-out", request, "-subj", "/CN=localhost"});
  run({"openssl", "ca", "-batch", "-selfsign", "-keyfile", key, "-in", request, "-out", cert,
       "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-config", ca_config});
  ServerConfig config = loopback_config();
  config.tls.cert_path = cert;
  config.tls.key_path = key;
  RunningServer running(config);
  EXPECT_TRUE(running.log().wait_for("--tls-cert " + cert + ": the certificate expired on Jan  2"));
  Peer client(python_client(running, {"--send", "alpha", "--send", "beta"}));
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  expect_served(running, client);
}

TEST(TlsStartErrors, TheSelfSignedCertificateOutIsTheOneServed) {
  TempDir dir;
  const std::string out = dir.path("out.pem");
  Subprocess server({kServerBinary, "--host", "127.0.0.1", "--port", "0", "--tls-self-signed",
                     "--tls-cert-out", out});
  const std::uint16_t port = announced_port(server);
  Peer client({"python3", kPythonClient, std::to_string(port), "--ca", out, "--send", "alpha"});
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  EXPECT_TRUE(client.wait_for_lines("ok", 1)) << client.output();
  // Not the key.
  std::ifstream written(out);
  const std::string text{std::istreambuf_iterator<char>(written), {}};
  EXPECT_NE(text.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ(text.find("PRIVATE KEY"), std::string::npos);
}

// The SHA-256 fingerprint of a PEM certificate file as the openssl CLI computes it ("AB:CD:...").
std::string file_fingerprint(const std::string& cert) {
  Peer command({"openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", cert});
  EXPECT_EQ(command.wait_for_exit(), 0) << command.output();
  const std::string& output = command.output();  // "sha256 Fingerprint=AB:CD:...\n"
  const std::size_t start = output.find('=') + 1;
  return output.substr(start, output.find('\n', start) - start);
}

// Puts a copy of from in place of to by rename, as a certificate tool (certbot) does.
void replace_file(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to + ".new", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(to + ".new", to);
}

bool eventually_logged(const Subprocess& server, const std::string& text) {
  return eventually([&] { return server.stdout_text().find(text) != std::string::npos; }, 10s);
}

TEST(TlsReload, SighupServesTheNewCertificateToNewClientsAndOpenConnectionsContinue) {
  TempDir dir;
  const CertificateFiles first = make_server_certificate(dir, "rsa:2048");
  const CertificateFiles second = make_server_certificate(dir, "ec");
  const std::string first_fingerprint = file_fingerprint(first.cert);
  const std::string second_fingerprint = file_fingerprint(second.cert);
  ASSERT_NE(first_fingerprint, second_fingerprint);
  const std::string cert = dir.path("server.pem");
  const std::string key = dir.path("server.key");
  replace_file(first.cert, cert);
  replace_file(first.key, key);
  Subprocess server(
      {kServerBinary, "--host", "127.0.0.1", "--port", "0", "--tls-cert", cert, "--tls-key", key});
  const std::string port = std::to_string(announced_port(server));
  const auto new_client_sees = [&](const std::string& fingerprint) {
    Peer client({"python3", kPythonClient, port, "--print-fingerprint", "--send", "alpha"});
    EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
    EXPECT_TRUE(client.wait_for_lines("fingerprint " + fingerprint, 1)) << client.output();
    EXPECT_TRUE(client.wait_for_lines("ok", 1)) << client.output();
  };

  Peer open_before({"python3", kPythonClient, port, "--print-fingerprint", "--stdin"});
  ASSERT_TRUE(open_before.wait_for_lines("fingerprint " + first_fingerprint, 1))
      << open_before.output();
  open_before.write("before\n");
  ASSERT_TRUE(open_before.wait_for_lines("ok", 1)) << open_before.output();

  replace_file(second.cert, cert);
  replace_file(second.key, key);
  server.send_signal(SIGHUP);
  EXPECT_TRUE(eventually_logged(
      server, "reload: TLS certificate: " + cert + " (SHA-256 " + second_fingerprint + ")"))
      << server.stdout_text();
  new_client_sees(second_fingerprint);
  // The connection from before the reload goes on with its own session.
  open_before.write("after\n");
  EXPECT_TRUE(open_before.wait_for_lines("ok", 2)) << open_before.output();

  // A key that does not match the certificate: the second certificate stays.
  replace_file(first.key, key);
  server.send_signal(SIGHUP);
  EXPECT_TRUE(eventually_logged(server, "reload failed: TLS certificate: --tls-key " + key +
                                            ": does not match the certificate in --tls-cert " +
                                            cert + "; the old certificate (SHA-256 " +
                                            second_fingerprint + ") stays"))
      << server.stdout_text();
  new_client_sees(second_fingerprint);

  // A certificate file gone: likewise.
  std::filesystem::remove(cert);
  server.send_signal(SIGHUP);
  EXPECT_TRUE(eventually_logged(server, "reload failed: TLS certificate: --tls-cert " + cert +
                                            ": cannot read: No such file or directory"))
      << server.stdout_text();
  new_client_sees(second_fingerprint);
  open_before.write("still\n");
  EXPECT_TRUE(open_before.wait_for_lines("ok", 3)) << open_before.output();
  open_before.close_stdin();
  EXPECT_EQ(open_before.wait_for_exit(), 0) << open_before.output();
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

// Clients handshaking while the certificate is swapped back and forth: each is served, with one
// of the two certificates, and nothing else breaks.
TEST(TlsReload, ClientsHandshakingDuringRepeatedReloadsAreAllServed) {
  TempDir dir;
  const std::array<CertificateFiles, 2> pairs{make_server_certificate(dir, "rsa:2048"),
                                              make_server_certificate(dir, "ec")};
  const std::array<std::string, 2> fingerprints{file_fingerprint(pairs[0].cert),
                                                file_fingerprint(pairs[1].cert)};
  const std::string cert = dir.path("server.pem");
  const std::string key = dir.path("server.key");
  replace_file(pairs[0].cert, cert);
  replace_file(pairs[0].key, key);
  Subprocess server({kServerBinary, "--host", "127.0.0.1", "--port", "0", "--quiet", "--tls-cert",
                     cert, "--tls-key", key});
  const std::string port = std::to_string(announced_port(server));

  // Reloads go on, one after another, for as long as the clients run (at most kMaxReloads).
  constexpr int kMaxReloads = 500;
  std::atomic<bool> clients_done{false};
  int reloads_done = 0;
  std::thread reloads([&] {
    for (int i = 1; i <= kMaxReloads && !clients_done.load(); ++i) {
      replace_file(pairs[i % 2].cert, cert);
      replace_file(pairs[i % 2].key, key);
      server.send_signal(SIGHUP);
      // One at a time: the next files are put in place only once this reload has read them.
      if (!eventually([&] {
            return occurrences(server.stdout_text(), "reload: TLS certificate: ") >=
                   static_cast<std::size_t>(i);
          })) {
        return;
      }
      reloads_done = i;
    }
  });
  constexpr int kClientThreads = 3;
  constexpr int kClientsEach = 8;
  std::vector<std::thread> client_threads;
  std::vector<std::string> failures(kClientThreads);
  for (int t = 0; t < kClientThreads; ++t) {
    client_threads.emplace_back([&, t] {
      for (int c = 0; c < kClientsEach; ++c) {
        Peer client({"python3", kPythonClient, port, "--print-fingerprint", "--send", "alpha"});
        const auto status = client.wait_for_exit();
        const bool known = client.wait_for_lines("fingerprint " + fingerprints[0], 1, 0ms) ||
                           client.wait_for_lines("fingerprint " + fingerprints[1], 1, 0ms);
        if (status != 0 || !known || !client.wait_for_lines("ok", 1, 0ms)) {
          failures[t] += client.output() + "\n";
        }
      }
    });
  }
  for (auto& thread : client_threads) thread.join();
  clients_done = true;
  reloads.join();
  for (const std::string& failure : failures) EXPECT_EQ(failure, "");
  const std::string log = server.stdout_text();
  EXPECT_GE(reloads_done, 2) << log;
  EXPECT_EQ(occurrences(log, "reload: TLS certificate: "), static_cast<std::size_t>(reloads_done))
      << log;
  EXPECT_EQ(occurrences(log, "reload failed"), 0u) << log;
  // The last reload put pairs[reloads_done % 2] in place.
  Peer last({"python3", kPythonClient, port, "--print-fingerprint", "--send", "alpha"});
  EXPECT_EQ(last.wait_for_exit(), 0) << last.output();
  EXPECT_TRUE(last.wait_for_lines("fingerprint " + fingerprints[reloads_done % 2], 1))
      << last.output();
}

TEST(TlsReload, ASelfSignedServerKeepsItsGeneratedCertificate) {
  TempDir dir;
  const std::string out = dir.path("out.pem");
  Subprocess server({kServerBinary, "--host", "127.0.0.1", "--port", "0", "--tls-self-signed",
                     "--tls-cert-out", out});
  const std::string port = std::to_string(announced_port(server));
  const std::string fingerprint = file_fingerprint(out);
  server.send_signal(SIGHUP);
  EXPECT_TRUE(eventually_logged(server,
                                "reload: TLS certificate: --tls-self-signed: nothing to "
                                "re-read, the certificate generated at start (SHA-256 " +
                                    fingerprint + ") stays"))
      << server.stdout_text();
  Peer client(
      {"python3", kPythonClient, port, "--ca", out, "--print-fingerprint", "--send", "alpha"});
  EXPECT_EQ(client.wait_for_exit(), 0) << client.output();
  EXPECT_TRUE(client.wait_for_lines("fingerprint " + fingerprint, 1)) << client.output();
}

}  // namespace
}  // namespace tcp_server::testing
