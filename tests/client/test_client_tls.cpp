// tcp_client's TLS against TLS servers no one here wrote: Python's ssl module (an echo server
// started on port 0) and `openssl s_server`, with certificates made by the openssl CLI.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "free_port.hpp"
#include "running_server.hpp"
#include "subprocess.hpp"

namespace tcp_server::testing {
namespace {

using namespace std::chrono_literals;

const std::string kClient = TCP_CLIENT_BINARY;
const std::string kEchoServer = TLS_ECHO_SERVER_SCRIPT;
constexpr const char* kEnv = "/usr/bin/env";  // Subprocess execv()s: let PATH find the tools

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

void run_openssl(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{kEnv, "openssl"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  const auto result = run_to_completion(argv, 30s);
  if (result.status != 0) throw std::runtime_error("openssl failed: " + result.err);
}

// A throwaway CA, a server certificate it signed (localhost, 127.0.0.1), a client certificate
// it signed (CN test-client), and a second CA that signed nothing here. ECDSA P-256.
class Certificates {
 public:
  Certificates() {
    char pattern[] = "/tmp/tcp_client_tls_XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    directory_ = pattern;
    make_ca("ca", "tcp_client test CA");
    make_ca("other_ca", "another CA");
    write("server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    make_signed("server", "localhost", "server.ext");
    write("client.ext", "extendedKeyUsage=clientAuth\n");
    make_signed("client", "test-client", "client.ext");
  }
  ~Certificates() {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  Certificates(const Certificates&) = delete;
  Certificates& operator=(const Certificates&) = delete;

  [[nodiscard]] std::string path(const std::string& name) const { return directory_ + "/" + name; }

  // As `openssl x509 -fingerprint -sha256` prints it: "AB:CD:...".
  [[nodiscard]] std::string fingerprint(const std::string& certificate) const {
    const auto result = run_to_completion(
        {kEnv, "openssl", "x509", "-in", path(certificate), "-noout", "-fingerprint", "-sha256"});
    const auto equals = result.out.find('=');
    if (result.status != 0 || equals == std::string::npos) {
      throw std::runtime_error("no fingerprint: " + result.err);
    }
    std::string text = result.out.substr(equals + 1);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
  }

  void write(const std::string& name, const std::string& content) const {
    std::ofstream(path(name)) << content;
  }

 private:
  void make_ca(const std::string& name, const std::string& common_name) {
    run_openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", path(name + ".key"), "-out", path(name + ".pem"), "-days", "2", "-subj",
                 "/CN=" + common_name});
  }
  void make_signed(const std::string& name, const std::string& common_name,
                   const std::string& extensions) {
    run_openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj",
                 "/CN=" + common_name});
    run_openssl({"x509", "-req", "-in", path(name + ".csr"), "-CA", path("ca.pem"), "-CAkey",
                 path("ca.key"), "-CAcreateserial", "-days", "2", "-out", path(name + ".pem"),
                 "-extfile", path(extensions)});
  }

  std::string directory_;
};

// Python's ssl echo server on a kernel-chosen port.
struct PythonTlsEcho {
  Subprocess process;
  std::uint16_t port;
  explicit PythonTlsEcho(const Certificates& certificates, std::vector<std::string> extra = {})
      : process([&] {
          std::vector<std::string> argv{kEnv,
                                        "python3",
                                        kEchoServer,
                                        "--cert",
                                        certificates.path("server.pem"),
                                        "--key",
                                        certificates.path("server.key")};
          argv.insert(argv.end(), extra.begin(), extra.end());
          return argv;
        }()),
        port(announced_port(process)) {}
};

// `openssl s_server -rev` (each line comes back reversed), serving `connections` clients and
// exiting. It cannot bind port 0, so it gets a port probed free, and another if someone took it.
struct OpensslServer {
  std::unique_ptr<Subprocess> process;
  std::uint16_t port = 0;
  OpensslServer(const Certificates& certificates, std::vector<std::string> extra, int connections) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port = kernel_chosen_free_port();
      std::vector<std::string> argv{kEnv,
                                    "openssl",
                                    "s_server",
                                    "-accept",
                                    "127.0.0.1:" + std::to_string(port),
                                    "-cert",
                                    certificates.path("server.pem"),
                                    "-key",
                                    certificates.path("server.key"),
                                    "-rev",
                                    "-naccept",
                                    std::to_string(connections)};
      argv.insert(argv.end(), extra.begin(), extra.end());
      process = std::make_unique<Subprocess>(argv);
      if (process->wait_for_stdout_line("ACCEPT", 10s)) return;
    }
    throw std::runtime_error("openssl s_server did not start: " + process->stderr_text());
  }
};

class TlsClient : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { certificates_ = std::make_unique<Certificates>(); }
  static void TearDownTestSuite() { certificates_.reset(); }

  static const Certificates& certificates() { return *certificates_; }
  static std::string path(const std::string& name) { return certificates_->path(name); }

  // tcp_client COMMAND --port PORT ARGS...
  static Completed client(const std::string& command, std::uint16_t port,
                          std::vector<std::string> arguments) {
    std::vector<std::string> argv{kClient, command, "--port", std::to_string(port)};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return run_to_completion(argv);
  }

 private:
  static inline std::unique_ptr<Certificates> certificates_;
};

TEST_F(TlsClient, SendVerifiesTheServerAgainstATestCaAndGetsEveryEcho) {
  PythonTlsEcho server(certificates());
  const auto result =
      client("send", server.port,
             {"--tls", "--tls-ca", path("ca.pem"), "-n", "3", "-k", "2", "-m", "line {id}.{n}"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("client 2: line 2.2\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("3 clients, 6/6 replies, 0 clients failed"), std::string::npos)
      << result.out;
  EXPECT_EQ(result.err, "");
}

TEST_F(TlsClient, ServerNameIsSentAndVerified) {
  PythonTlsEcho server(certificates());
  const auto good = client("send", server.port,
                           {"--tls", "--tls-ca", path("ca.pem"), "--tls-server-name", "localhost"});
  EXPECT_EQ(good.status, 0) << good.err;
  const auto wrong =
      client("send", server.port,
             {"--tls", "--tls-ca", path("ca.pem"), "--tls-server-name", "wrong.example"});
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.err.find("certificate verify failed: hostname mismatch (checked 'wrong.example'"),
            std::string::npos)
      << wrong.err;
  EXPECT_EQ(lines(wrong.err), 1u) << wrong.err;
}

TEST_F(TlsClient, HostnameMismatchIsServedOnlyWithInsecureWhichSaysSo) {
  PythonTlsEcho server(certificates());
  const auto insecure = client("send", server.port,
                               {"--tls", "--tls-insecure", "--tls-server-name", "wrong.example"});
  EXPECT_EQ(insecure.status, 0) << insecure.err;
  EXPECT_NE(insecure.out.find("client 1: hello"), std::string::npos) << insecure.out;
  EXPECT_EQ(insecure.err, "tcp_client: --tls-insecure: the server's certificate is not verified\n");
}

TEST_F(TlsClient, ACertificateFromAnUnknownCaIsRefused) {
  PythonTlsEcho server(certificates());
  const auto other_ca = client("send", server.port, {"--tls", "--tls-ca", path("other_ca.pem")});
  EXPECT_EQ(other_ca.status, 1);
  EXPECT_NE(other_ca.err.find("certificate verify failed"), std::string::npos) << other_ca.err;
  // The system's trust store does not know the test CA either.
  const auto system_store = client("send", server.port, {"--tls"});
  EXPECT_EQ(system_store.status, 1);
  EXPECT_NE(system_store.err.find("certificate verify failed"), std::string::npos)
      << system_store.err;
}

TEST_F(TlsClient, PinOfTheServersCertificateIsAcceptedInEitherSpelling) {
  PythonTlsEcho server(certificates());
  const std::string pin = certificates().fingerprint("server.pem");
  const auto as_printed = client("send", server.port, {"--tls", "--tls-pin", pin});
  EXPECT_EQ(as_printed.status, 0) << as_printed.err;
  std::string bare;
  for (const char c : pin) {
    if (c != ':') bare += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const auto lower_case = client("send", server.port, {"--tls", "--tls-pin", bare});
  EXPECT_EQ(lower_case.status, 0) << lower_case.err;
}

TEST_F(TlsClient, WrongPinIsOneLineNamingBothFingerprints) {
  PythonTlsEcho server(certificates());
  const std::string served = certificates().fingerprint("server.pem");
  const std::string other = certificates().fingerprint("client.pem");
  const auto result = client("send", server.port, {"--tls", "--tls-pin", other});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("certificate pin mismatch: the server's certificate is SHA256 " +
                            served + ", --tls-pin is " + other),
            std::string::npos)
      << result.err;
  EXPECT_EQ(lines(result.err), 1u) << result.err;
}

TEST_F(TlsClient, ClientCertificateIsPresentedToAVerifyingOpensslServer) {
  OpensslServer server(certificates(), {"-Verify", "1", "-CAfile", path("ca.pem")}, 1);
  const auto result = client("send", server.port,
                             {"--tls", "--tls-ca", path("ca.pem"), "--tls-cert", path("client.pem"),
                              "--tls-key", path("client.key"), "-m", "hello"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("client 1: olleh"), std::string::npos) << result.out;
  ASSERT_TRUE(server.process->wait_for_exit(10s).has_value());
  const std::string said = server.process->stdout_text() + server.process->stderr_text();
  EXPECT_NE(said.find("CN = test-client"), std::string::npos) << said;
}

TEST_F(TlsClient, WithoutAClientCertificateTheVerifyingServerRefuses) {
  OpensslServer server(certificates(), {"-Verify", "1", "-CAfile", path("ca.pem")}, 1);
  const auto result = client("send", server.port, {"--tls", "--tls-ca", path("ca.pem")});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("certificate required"), std::string::npos) << result.err;
  EXPECT_EQ(lines(result.err), 1u) << result.err;
}

TEST_F(TlsClient, BenchPingpongAndChurnCountTheirHandshakes) {
  PythonTlsEcho server(certificates());
  const auto pingpong =
      client("bench", server.port,
             {"--tls", "--tls-ca", path("ca.pem"), "--echo", "-c", "4", "-d", "1s", "--json"});
  EXPECT_EQ(pingpong.status, 0) << pingpong.err;
  EXPECT_TRUE(std::regex_search(
      pingpong.out, std::regex(R"("replies":[1-9][0-9]*,.*"tls":true,"handshakes":[1-4],)"
                               R"("resumed":0,"errors":\{"total":0,)")))
      << pingpong.out;
  const auto churn = client("bench", server.port,
                            {"--tls", "--tls-ca", path("ca.pem"), "--echo", "--mode", "churn",
                             "--concurrency", "2", "-d", "1s", "--json"});
  EXPECT_EQ(churn.status, 0) << churn.err;
  EXPECT_TRUE(std::regex_search(
      churn.out, std::regex(R"("connections_completed":[1-9][0-9]*,.*"resumed":0,)")))
      << churn.out;
}

TEST_F(TlsClient, BenchHoldCountsAConnectionOnceItsHandshakeIsDone) {
  PythonTlsEcho server(certificates());
  const auto hold = client("bench", server.port,
                           {"--tls", "--tls-ca", path("ca.pem"), "--echo", "--mode", "hold", "-c",
                            "5", "--hold-time", "200ms", "--json"});
  EXPECT_EQ(hold.status, 0) << hold.err;
  EXPECT_TRUE(std::regex_search(
      hold.out, std::regex(R"("connections_completed":5,"answered":5,.*"handshakes":5,)")))
      << hold.out;
}

TEST_F(TlsClient, ResumeReallyResumesWithTheServersTickets) {
  PythonTlsEcho server(certificates());
  const auto result = client("bench", server.port,
                             {"--tls", "--tls-ca", path("ca.pem"), "--echo", "--mode", "churn",
                              "--concurrency", "2", "-d", "1s", "--tls-resume", "--json"});
  EXPECT_EQ(result.status, 0) << result.err;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(result.out, match,
                                std::regex(R"("handshakes":([0-9]+),"resumed":([0-9]+),)")))
      << result.out;
  const auto handshakes = std::stoul(match[1]);
  const auto resumed = std::stoul(match[2]);
  EXPECT_GT(resumed, 0u) << result.out;
  // The first connection of each loop has nothing to resume.
  EXPECT_LT(resumed, handshakes) << result.out;
}

TEST_F(TlsClient, ChatOverTlsPrintsTheEchoAndEndsWithCloseNotify) {
  PythonTlsEcho server(certificates());
  int input[2];
  int output[2];
  ASSERT_EQ(::pipe2(input, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(output, O_CLOEXEC), 0);
  const UniqueFd input_read(input[0]);
  UniqueFd input_write(input[1]);
  const UniqueFd output_read(output[0]);
  UniqueFd output_write(output[1]);
  const std::string lines_sent = "hello\n你好\n";
  ASSERT_EQ(::write(input_write.get(), lines_sent.data(), lines_sent.size()),
            static_cast<ssize_t>(lines_sent.size()));
  input_write.reset();  // end of input at once: the echo must still come back in full
  std::string printed;
  std::thread reader([&] {
    char buffer[256];
    ssize_t got;
    while ((got = ::read(output_read.get(), buffer, sizeof buffer)) > 0) {
      printed.append(buffer, static_cast<std::size_t>(got));
    }
  });
  client::ChatOptions options;
  options.target = {"127.0.0.1", server.port};
  options.tls.enabled = true;
  options.tls.ca_file = path("ca.pem");
  std::ostringstream err;
  const int status = client::run_chat(options, input_read.get(), output_write.get(), err);
  output_write.reset();
  reader.join();
  EXPECT_EQ(status, 0) << err.str();
  EXPECT_EQ(printed, lines_sent);
  EXPECT_EQ(err.str(), "");
}

TEST_F(TlsClient, AServerThatSpeaksNoTlsFailsTheHandshakeInOneLine) {
  RunningServer plain(loopback_config());
  const auto result =
      client("send", plain.endpoint().port(), {"--tls", "--tls-insecure", "--timeout", "500ms"});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("TLS handshake with 127.0.0.1:"), std::string::npos) << result.err;
  EXPECT_EQ(lines(result.err), 2u) << result.err;  // the --tls-insecure note, then the failure
}

TEST_F(TlsClient, BadFilesAreOneLineNamingTheOptionAndFile) {
  PythonTlsEcho server(certificates());
  const auto missing = client("send", server.port, {"--tls", "--tls-ca", path("missing.pem")});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err,
            "tcp_client: error: --tls-ca " + path("missing.pem") + ": No such file or directory\n");
  certificates().write("garbage.pem", "not a certificate\n");
  const auto garbage = client("send", server.port,
                              {"--tls", "--tls-cert", path("garbage.pem"), "--tls-key",
                               path("client.key"), "--tls-ca", path("ca.pem")});
  EXPECT_EQ(garbage.status, 1);
  EXPECT_NE(garbage.err.find("--tls-cert " + path("garbage.pem") + ": not a PEM certificate"),
            std::string::npos)
      << garbage.err;
  EXPECT_EQ(lines(garbage.err), 1u) << garbage.err;
  const auto mismatched = client("send", server.port,
                                 {"--tls", "--tls-cert", path("client.pem"), "--tls-key",
                                  path("server.key"), "--tls-ca", path("ca.pem")});
  EXPECT_EQ(mismatched.status, 1);
  EXPECT_NE(mismatched.err.find("does not match the certificate in --tls-cert"), std::string::npos)
      << mismatched.err;
  const auto bench = client("bench", server.port, {"--tls", "--tls-ca", path("missing.pem")});
  EXPECT_EQ(bench.status, 1);
  EXPECT_EQ(lines(bench.err), 1u) << bench.err;
}

TEST_F(TlsClient, BenchWithAWrongPinMeasuresNothingAndSaysWhy) {
  PythonTlsEcho server(certificates());
  const auto result = client("bench", server.port,
                             {"--tls", "--tls-pin", certificates().fingerprint("client.pem"),
                              "--echo", "-c", "2", "-d", "1s"});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("tcp_client: error: TLS: certificate pin mismatch"), std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace tcp_server::testing
