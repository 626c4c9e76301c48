// The pure pieces of TLS: option validation, version parsing, fingerprint text, and telling a
// plaintext client from a TLS one by its first bytes. The CLI's --tls-* options land here too.
#include "tcp_server/tls_settings.hpp"

#include <gtest/gtest.h>

#include <array>
#include <sstream>

#include "cli.hpp"
#include "tcp_server/config.hpp"

namespace tcp_server {
namespace {

using namespace std::chrono_literals;

bool mentions(const std::vector<std::string>& problems, const std::string& words) {
  for (const auto& problem : problems) {
    if (problem.find(words) != std::string::npos) return true;
  }
  return false;
}

TEST(TlsSettingsValidate, OffByDefaultAndValid) {
  const TlsSettings settings;
  EXPECT_FALSE(settings.enabled());
  EXPECT_TRUE(settings.validate().empty());
  EXPECT_EQ(settings.client_verification(), ClientVerification::kNone);
}

TEST(TlsSettingsValidate, EachBadCombinationIsNamed) {
  EXPECT_TRUE(mentions(TlsSettings{.cert_path = "c.pem"}.validate(), "--tls-cert needs --tls-key"));
  EXPECT_TRUE(mentions(TlsSettings{.key_path = "k.pem"}.validate(), "--tls-key needs --tls-cert"));
  EXPECT_TRUE(
      mentions(TlsSettings{.cert_path = "c", .key_path = "k", .self_signed = true}.validate(),
               "exclude each other"));
  EXPECT_TRUE(
      mentions(TlsSettings{.cert_path = "c", .key_path = "k", .cert_out_path = "o"}.validate(),
               "--tls-cert-out is only used with --tls-self-signed"));
  EXPECT_TRUE(mentions(TlsSettings{.client_ca_path = "ca"}.validate(), "--tls-client-ca needs"));
  EXPECT_TRUE(mentions(
      TlsSettings{.self_signed = true, .verify_client = ClientVerification::kOptional}.validate(),
      "--tls-verify-client needs --tls-client-ca"));
  EXPECT_TRUE(mentions(TlsSettings{.self_signed = true, .handshake_timeout = 0ms}.validate(),
                       "--tls-handshake-timeout must be more than 0"));
}

TEST(TlsSettingsValidate, AClientCaMeansRequireUnlessToldOtherwise) {
  TlsSettings settings{.self_signed = true, .client_ca_path = "ca.pem"};
  EXPECT_TRUE(settings.validate().empty());
  EXPECT_EQ(settings.client_verification(), ClientVerification::kRequire);
  settings.verify_client = ClientVerification::kOptional;
  EXPECT_EQ(settings.client_verification(), ClientVerification::kOptional);
}

TEST(TlsSettingsValidate, ServerConfigReportsTlsProblems) {
  ServerConfig config;
  config.tls.cert_path = "c.pem";
  EXPECT_TRUE(mentions(config.validate(), "--tls-cert needs --tls-key"));
}

TEST(TlsVersionParse, Only12And13AreAccepted) {
  EXPECT_EQ(parse_tls_version("1.2"), TlsVersion::k1_2);
  EXPECT_EQ(parse_tls_version("1.3"), TlsVersion::k1_3);
  std::string why;
  EXPECT_FALSE(parse_tls_version("1.1", &why));
  EXPECT_EQ(why, "TLS 1.1 is obsolete (RFC 8996) and refused; use 1.2 or 1.3");
  EXPECT_FALSE(parse_tls_version("1.0", &why));
  EXPECT_NE(why.find("TLS 1.0 is obsolete"), std::string::npos);
  EXPECT_FALSE(parse_tls_version("1.4", &why));
  EXPECT_EQ(why, "expected 1.2 or 1.3");
  EXPECT_FALSE(parse_tls_version("", &why));
}

TEST(Fingerprint, FormatsAsUpperCaseHexPairs) {
  const std::array<std::uint8_t, 4> digest{0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(format_fingerprint(digest), "00:0F:A0:FF");
  EXPECT_EQ(format_fingerprint({}), "");
}

TEST(NonTlsDetection, TlsHandshakeRecordsAndNothingAreNotFlagged) {
  EXPECT_EQ(describe_non_tls(""), "");
  EXPECT_EQ(describe_non_tls("\x16"), "");
  EXPECT_EQ(describe_non_tls(std::string("\x16\x03\x01\x02\x00", 5)), "");
  EXPECT_EQ(describe_non_tls(std::string("\x16\x03\x03", 3)), "");
}

TEST(NonTlsDetection, HttpRequestsAreNamed) {
  for (const char* request :
       {"GET / HTTP/1.1\r\n", "POST /x HTTP/1.0\r\n", "HEAD / ", "OPTIONS * HTTP/1.1",
        "CONNECT a:443 HTTP/1.1", "PRI * HTTP/2.0", "GET"}) {
    EXPECT_EQ(describe_non_tls(request), "plaintext HTTP request?") << request;
  }
}

TEST(NonTlsDetection, OtherTextAndBinaryAreTold) {
  EXPECT_EQ(describe_non_tls("hello\n"), "plaintext?");
  EXPECT_EQ(describe_non_tls("GE"), "plaintext?");  // too short to say HTTP
  EXPECT_EQ(describe_non_tls("GETTING\n"), "plaintext?");
  EXPECT_EQ(describe_non_tls(std::string("\x00\x01\x02", 3)), "not a TLS handshake");
  EXPECT_EQ(describe_non_tls(std::string("\x16\x01", 2)), "not a TLS handshake");
  EXPECT_EQ(describe_non_tls(std::string("\x80\x2e\x01\x00\x02", 5)),
            "SSL 2.0 ClientHello: not supported");
}

CommandLine parse(std::vector<std::string> args, std::string& err) {
  args.insert(args.begin(), "tcp_server");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream errors;
  CommandLine parsed = parse_command_line(static_cast<int>(argv.size()), argv.data(), out, errors);
  err = errors.str();
  return parsed;
}

TEST(TlsCommandLine, OptionsLandInTheConfig) {
  std::string err;
  const auto parsed = parse({"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca",
                             "ca.pem", "--tls-verify-client", "optional", "--tls-min-version",
                             "1.3", "--tls-handshake-timeout", "2s"},
                            err);
  ASSERT_TRUE(parsed.options) << err;
  const TlsSettings& tls = parsed.options->server.tls;
  EXPECT_EQ(tls.cert_path, "c.pem");
  EXPECT_EQ(tls.key_path, "k.pem");
  EXPECT_EQ(tls.client_ca_path, "ca.pem");
  EXPECT_EQ(tls.client_verification(), ClientVerification::kOptional);
  EXPECT_EQ(tls.min_version, TlsVersion::k1_3);
  EXPECT_EQ(tls.handshake_timeout, 2s);
}

TEST(TlsCommandLine, BadValuesAreOneLineNamingTheOption) {
  std::string err;
  EXPECT_EQ(parse({"--tls-self-signed", "--tls-min-version", "1.1"}, err).exit_code, 2);
  EXPECT_NE(err.find("--tls-min-version"), std::string::npos) << err;
  EXPECT_NE(err.find("TLS 1.1 is obsolete"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;

  EXPECT_EQ(
      parse({"--tls-self-signed", "--tls-client-ca", "ca", "--tls-verify-client", "maybe"}, err)
          .exit_code,
      2);
  EXPECT_NE(err.find("--tls-verify-client"), std::string::npos) << err;

  EXPECT_EQ(parse({"--tls-cert", "c.pem"}, err).exit_code, 2);
  EXPECT_NE(err.find("--tls-cert needs --tls-key"), std::string::npos) << err;
}

TEST(TlsCommandLine, HelpShowsATlsGroup) {
  std::string err;
  std::vector<const char*> argv{"tcp_server", "--help"};
  std::ostringstream out;
  std::ostringstream errors;
  (void)parse_command_line(2, argv.data(), out, errors);
  const std::string help = out.str();
  const std::size_t group = help.find("TLS:");
  ASSERT_NE(group, std::string::npos) << help;
  EXPECT_NE(help.find("--tls-self-signed", group), std::string::npos);
  EXPECT_NE(help.find("--tls-handshake-timeout", group), std::string::npos);
}

}  // namespace
}  // namespace tcp_server
