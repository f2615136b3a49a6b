#include "acme/validation.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "acme/dns_resolver.h"
#include "acme/unbound_testing.h"
#include "common/testing.h"
#include "common/unique_fd.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "pki/tls_alpn_testing.h"

namespace scepter::acme {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const std::string kKeyAuth = std::string(kToken) + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

// base64url without padding, from the standard alphabet.
std::string b64url(std::string_view bytes) {
  std::string s = pki::base64_encode(bytes, 0);
  std::replace(s.begin(), s.end(), '+', '-');
  std::replace(s.begin(), s.end(), '/', '_');
  s.erase(std::remove(s.begin(), s.end(), '='), s.end());
  return s;
}

std::uint16_t listen_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

UniqueFd loopback_listener() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::listen(fd.get(), 8), 0);
  return fd;
}

// A port on 127.0.0.1 where nothing listens.
std::uint16_t closed_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  return listen_port(fd.get());
}

// An HTTP server on 127.0.0.1 that answers every request with `response` (raw bytes),
// or, when `hang`, accepts and never answers. Records the last request head.
class HttpStub {
 public:
  explicit HttpStub(std::string response, bool hang = false)
      : response_(std::move(response)), hang_(hang), listener_(loopback_listener()) {
    port_ = listen_port(listener_.get());
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpStub() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::string request() const {
    std::lock_guard<std::mutex> lock(mu_);
    return request_;
  }
  int requests() const { return count_; }

 private:
  void serve() {
    std::vector<UniqueFd> held;
    while (!stop_) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      UniqueFd c(::accept(listener_.get(), nullptr, nullptr));
      if (!c.valid()) continue;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        pollfd r{c.get(), POLLIN, 0};
        if (::poll(&r, 1, 2000) <= 0) break;
        const ssize_t n = ::read(c.get(), buf, sizeof buf);
        if (n <= 0) break;
        head.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        request_ = head;
      }
      ++count_;
      if (hang_) {
        held.push_back(std::move(c));
        continue;
      }
      std::string_view out = response_;
      while (!out.empty()) {
        const ssize_t n = ::send(c.get(), out.data(), out.size(), MSG_NOSIGNAL);
        if (n <= 0) break;
        out.remove_prefix(static_cast<std::size_t>(n));
      }
    }
  }

  std::string response_;
  bool hang_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> count_{0};
  mutable std::mutex mu_;
  std::string request_;
  std::thread thread_;
};

std::string http_response(int status, std::string_view body, std::string_view extra = "") {
  return fmt::format("HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}", status,
                     body.size(), extra, body);
}

const Identifier kLoopbackIp{"ip", "127.0.0.1"};

ValidationSettings loopback_allowed() {
  ValidationSettings s;
  s.connect_allowed.push_back(*parse_ip_prefix("127.0.0.0/8"));
  s.timeout = std::chrono::seconds(10);
  return s;
}

class Validation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dns_ = std::make_unique<testing::UnboundServer>(
        "example.test.",
        std::vector<std::string>{"a.example.test. A 127.0.0.1", "mixed.example.test. A 169.254.0.1",
                                 "mixed.example.test. A 127.0.0.1",
                                 "linklocal.example.test. A 169.254.0.1"});
  }
  static void TearDownTestSuite() { dns_.reset(); }
  void SetUp() override { ASSERT_TRUE(dns_->ok()) << dns_->error(); }

  ValidationSettings with_dns(ValidationSettings s = loopback_allowed()) {
    s.resolver = dns_->resolver();
    return s;
  }

  static std::unique_ptr<testing::UnboundServer> dns_;
};
std::unique_ptr<testing::UnboundServer> Validation::dns_;

TEST(ChallengeType, Names) {
  for (ChallengeType t :
       {ChallengeType::kHttp01, ChallengeType::kDns01, ChallengeType::kTlsAlpn01}) {
    EXPECT_EQ(challenge_type_by_name(challenge_type_name(t)), t);
  }
  EXPECT_STREQ(challenge_type_name(ChallengeType::kTlsAlpn01), "tls-alpn-01");
  EXPECT_FALSE(challenge_type_by_name("http-02").has_value());
}

TEST(DnsResolver, ResolverForms) {
  EXPECT_TRUE(valid_resolver("192.0.2.1"));
  EXPECT_TRUE(valid_resolver("192.0.2.1:5353"));
  EXPECT_TRUE(valid_resolver("[2001:db8::1]:53"));
  EXPECT_TRUE(valid_resolver("2001:db8::1"));
  EXPECT_FALSE(valid_resolver("192.0.2.1:0"));
  EXPECT_FALSE(valid_resolver("192.0.2.1:65536"));
  EXPECT_FALSE(valid_resolver("[192.0.2.1]:53"));
  EXPECT_FALSE(valid_resolver("dns.example:53"));
  EXPECT_FALSE(valid_resolver("[2001:db8::1]:"));
}

// ---- http-01 ----

TEST(Http01, LoopbackRefusedUnlessAllowed) {
  HttpStub server(http_response(200, kKeyAuth));
  ValidationSettings s;
  s.http_port = server.port();
  auto p = validate(ChallengeType::kHttp01, kLoopbackIp, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "connection");
  EXPECT_THAT(p->detail, HasSubstr("127.0.0.1, which validation does not connect to"));
  EXPECT_EQ(server.requests(), 0);

  s.connect_allowed.push_back(*parse_ip_prefix("127.0.0.0/8"));
  p = validate(ChallengeType::kHttp01, kLoopbackIp, kToken, kKeyAuth, s);
  EXPECT_FALSE(p.has_value()) << p->type << ": " << p->detail;
}

TEST(Http01, GoodAnswerWithTrailingWhitespace) {
  HttpStub server(http_response(200, kKeyAuth + "\r\n \n"));
  ValidationSettings s = loopback_allowed();
  s.http_port = server.port();
  auto p = validate(ChallengeType::kHttp01, kLoopbackIp, kToken, kKeyAuth, s);
  EXPECT_FALSE(p.has_value()) << p->type << ": " << p->detail;
  EXPECT_THAT(server.request(),
              HasSubstr(std::string("GET /.well-known/acme-challenge/") + kToken + " HTTP/1.1"));
  EXPECT_THAT(server.request(), HasSubstr("Host: 127.0.0.1:" + std::to_string(server.port())));
}

TEST(Http01, NotFound) {
  HttpStub server(http_response(404, "no"));
  ValidationSettings s = loopback_allowed();
  s.http_port = server.port();
  auto p = validate(ChallengeType::kHttp01, kLoopbackIp, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "unauthorized");
  EXPECT_THAT(p->detail, HasSubstr("404"));
  EXPECT_THAT(p->detail, HasSubstr("127.0.0.1"));
}

TEST(Http01, WrongBody) {
  HttpStub server(http_response(200, std::string(kToken) + ".wrong"));
  ValidationSettings s = loopback_allowed();
  s.http_port = server.port();
  auto p = validate(ChallengeType::kHttp01, kLoopbackIp, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "incorrectResponse");
}

TEST(Http01, RedirectIsNotFollowed) {
  HttpStub target(http_response(200, kKeyAuth));
  HttpStub server(
      http_response(302, "",
                    fmt::format("Location: http://127.0.0.1:{}/.well-known/acme-challenge/{}\r\n",
                                target.port(), kToken)));
  ValidationSettings s = loopback_allowed();
  s.http_port = server.port();
  auto p = validate(ChallengeType::kHttp01, kLoopbackIp, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "incorrectResponse");
  EXPECT_THAT(p->detail, HasSubstr("redirects are not followed"));
  EXPECT_EQ(target.requests(), 0);
}

TEST(Http01, OversizedBody) {
  HttpStub server(http_response(200, kKeyAuth + std::string(20000, ' ')));
  ValidationSettings s = loopback_allowed();
  s.http_port = server.port();
  auto p = validate(ChallengeType::kHttp01, kLoopbackIp, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "incorrectResponse");
  EXPECT_THAT(p->detail, HasSubstr("larger than 8192 bytes"));
}

TEST(Http01, ConnectionRefused) {
  ValidationSettings s = loopback_allowed();
  s.http_port = closed_port();
  auto p = validate(ChallengeType::kHttp01, kLoopbackIp, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "connection");
}

TEST(Http01, ServerThatNeverAnswersTimesOut) {
  HttpStub server("", /*hang=*/true);
  ValidationSettings s = loopback_allowed();
  s.http_port = server.port();
  s.timeout = std::chrono::milliseconds(300);
  auto p = validate(ChallengeType::kHttp01, kLoopbackIp, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "connection");
  EXPECT_THAT(p->detail, HasSubstr("timed out"));
}

TEST(Http01, MalformedTokenIsRefused) {
  ValidationSettings s = loopback_allowed();
  auto p = validate(ChallengeType::kHttp01, kLoopbackIp, "../x", "../x.y", s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "serverInternal");
}

TEST_F(Validation, Http01ByNameThroughTheResolver) {
  HttpStub server(http_response(200, kKeyAuth));
  ValidationSettings s = with_dns();
  s.http_port = server.port();
  auto p = validate(ChallengeType::kHttp01, {"dns", "a.example.test"}, kToken, kKeyAuth, s);
  EXPECT_FALSE(p.has_value()) << p->type << ": " << p->detail;
  EXPECT_THAT(server.request(), HasSubstr("Host: a.example.test:"));
}

TEST_F(Validation, Http01NameResolvingToLoopbackIsRefused) {
  HttpStub server(http_response(200, kKeyAuth));
  ValidationSettings s = with_dns(ValidationSettings{});
  s.http_port = server.port();
  auto p = validate(ChallengeType::kHttp01, {"dns", "a.example.test"}, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "connection");
  EXPECT_THAT(p->detail, HasSubstr("a.example.test"));
  EXPECT_THAT(p->detail, HasSubstr("resolves to 127.0.0.1, which validation does not connect "
                                   "to (acme allow connect)"));
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(Validation, Http01SkipsRefusedAddressesAndUsesAllowedOnes) {
  HttpStub server(http_response(200, kKeyAuth));
  ValidationSettings s = with_dns();
  s.http_port = server.port();
  auto p = validate(ChallengeType::kHttp01, {"dns", "mixed.example.test"}, kToken, kKeyAuth, s);
  EXPECT_FALSE(p.has_value()) << p->type << ": " << p->detail;
  p = validate(ChallengeType::kHttp01, {"dns", "linklocal.example.test"}, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_THAT(p->detail, HasSubstr("169.254.0.1, which validation does not connect to"));
}

TEST_F(Validation, Http01NoSuchName) {
  ValidationSettings s = with_dns();
  auto p = validate(ChallengeType::kHttp01, {"dns", "nx.example.test"}, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "dns");
  EXPECT_THAT(p->detail, HasSubstr("nx.example.test"));
}

TEST(DnsResolver, UnansweredResolverIsUnavailable) {
  // A UDP port where nothing answers: the look-up ends at the deadline.
  const std::uint16_t port = closed_port();
  auto r = lookup_txt(DnsQuery{"a.example.test", "127.0.0.1:" + std::to_string(port),
                               std::chrono::steady_clock::now() + std::chrono::milliseconds(300)});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
}

// ---- dns-01 ----

TEST_F(Validation, Dns01) {
  const std::string want = b64url(pki::digest(pki::Hash::kSha256, kKeyAuth));
  const Identifier id{"dns", "d.example.test"};
  const std::string rr = "_acme-challenge.d.example.test. 1 IN TXT ";
  ValidationSettings s = with_dns();

  auto p = validate(ChallengeType::kDns01, id, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "dns") << p->detail;

  ASSERT_TRUE(dns_->add(rr + "\"not-it\""));
  p = validate(ChallengeType::kDns01, id, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "incorrectResponse") << p->detail;
  EXPECT_THAT(p->detail, HasSubstr("not-it"));

  // One record split in two character-strings is one value.
  ASSERT_TRUE(dns_->add(rr + "\"" + want.substr(0, 10) + "\" \"" + want.substr(10) + "\""));
  ASSERT_TRUE(dns_->add(rr + "\"other\""));
  p = validate(ChallengeType::kDns01, id, kToken, kKeyAuth, s);
  EXPECT_FALSE(p.has_value()) << p->type << ": " << p->detail;

  // A wildcard's authorization looks at the base name.
  p = validate(ChallengeType::kDns01, {"dns", "*.d.example.test"}, kToken, kKeyAuth, s);
  EXPECT_FALSE(p.has_value()) << p->type << ": " << p->detail;

  ASSERT_TRUE(dns_->remove("_acme-challenge.d.example.test."));
  p = validate(ChallengeType::kDns01, id, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "dns");
}

TEST_F(Validation, Dns01ManyRecordsOneRight) {
  const std::string want = b64url(pki::digest(pki::Hash::kSha256, kKeyAuth));
  const std::string rr = "_acme-challenge.m.example.test. 1 IN TXT ";
  for (const char* other : {"\"a\"", "\"b\"", "\"c\" \"d\""}) ASSERT_TRUE(dns_->add(rr + other));
  ASSERT_TRUE(dns_->add(rr + "\"" + want + "\""));
  auto p = validate(ChallengeType::kDns01, {"dns", "m.example.test"}, kToken, kKeyAuth, with_dns());
  EXPECT_FALSE(p.has_value()) << p->type << ": " << p->detail;
}

TEST(Dns01, NotForIpIdentifiers) {
  auto p = validate(ChallengeType::kDns01, kLoopbackIp, kToken, kKeyAuth, loopback_allowed());
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "malformed");
}

// ---- tls-alpn-01 ----

class TlsAlpn01 : public ::testing::Test {
 protected:
  pki::Key key_ = *pki::Key::generate_ec(256);

  std::optional<Problem> run(const pki::testing::TlsAlpnCertSpec& spec, bool alpn = true,
                             const Identifier& id = kLoopbackIp, std::string* sni = nullptr) {
    pki::testing::TlsAlpnServer server(key_, pki::testing::make_tls_alpn_certificate(key_, spec),
                                       alpn);
    ValidationSettings s = loopback_allowed();
    s.tls_port = server.port();
    auto p = validate(ChallengeType::kTlsAlpn01, id, kToken, kKeyAuth, s);
    if (sni != nullptr) *sni = server.last_sni();
    return p;
  }
};

TEST_F(TlsAlpn01, GoodCertificate) {
  std::string sni;
  auto p =
      run({.ip_addresses = {"127.0.0.1"}, .key_authorization = kKeyAuth}, true, kLoopbackIp, &sni);
  EXPECT_FALSE(p.has_value()) << p->type << ": " << p->detail;
  EXPECT_EQ(sni, "1.0.0.127.in-addr.arpa");
}

TEST_F(TlsAlpn01, WrongDigest) {
  auto p = run({.ip_addresses = {"127.0.0.1"}, .key_authorization = kKeyAuth + "x"});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "incorrectResponse");
  EXPECT_THAT(p->detail, HasSubstr("SHA-256"));
}

TEST_F(TlsAlpn01, DigestNotInAnOctetString) {
  auto p = run({.ip_addresses = {"127.0.0.1"}, .key_authorization = kKeyAuth, .raw_digest = true});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "incorrectResponse");
}

TEST_F(TlsAlpn01, MissingExtension) {
  auto p =
      run({.ip_addresses = {"127.0.0.1"}, .key_authorization = kKeyAuth, .acme_identifier = false});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "incorrectResponse");
  EXPECT_THAT(p->detail, HasSubstr("no acmeIdentifier"));
}

TEST_F(TlsAlpn01, ExtensionNotCritical) {
  auto p = run({.ip_addresses = {"127.0.0.1"}, .key_authorization = kKeyAuth, .critical = false});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "incorrectResponse");
  EXPECT_THAT(p->detail, HasSubstr("not critical"));
}

TEST_F(TlsAlpn01, TwoAltNames) {
  auto p = run({.ip_addresses = {"127.0.0.1", "127.0.0.2"}, .key_authorization = kKeyAuth});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "incorrectResponse");
  EXPECT_THAT(p->detail, HasSubstr("2 entries"));
}

TEST_F(TlsAlpn01, OtherName) {
  auto p = run({.dns_names = {"a.example.test"}, .key_authorization = kKeyAuth});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "incorrectResponse");
}

TEST_F(TlsAlpn01, ServerWithoutAlpn) {
  auto p = run({.ip_addresses = {"127.0.0.1"}, .key_authorization = kKeyAuth}, /*alpn=*/false);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "tls");
  EXPECT_THAT(p->detail, HasSubstr("acme-tls/1"));
}

TEST_F(TlsAlpn01, ConnectionRefused) {
  ValidationSettings s = loopback_allowed();
  s.tls_port = closed_port();
  auto p = validate(ChallengeType::kTlsAlpn01, kLoopbackIp, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "connection");
}

TEST_F(TlsAlpn01, ServerThatNeverAnswersTimesOut) {
  HttpStub server("", /*hang=*/true);
  ValidationSettings s = loopback_allowed();
  s.tls_port = server.port();
  s.timeout = std::chrono::milliseconds(300);
  auto p = validate(ChallengeType::kTlsAlpn01, kLoopbackIp, kToken, kKeyAuth, s);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "connection");
}

TEST(TlsAlpnServerName, ReverseNames) {
  EXPECT_EQ(pki::tls_alpn_server_name(*parse_ip_address("192.0.2.1")), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(pki::tls_alpn_server_name(*parse_ip_address("2001:db8::1")),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

class TlsAlpn01ByName : public Validation {};

TEST_F(TlsAlpn01ByName, GoodCertificateAndSni) {
  const pki::Key key = *pki::Key::generate_ec(256);
  pki::testing::TlsAlpnServer server(
      key, pki::testing::make_tls_alpn_certificate(
               key, {.dns_names = {"A.example.test"}, .key_authorization = kKeyAuth}));
  ValidationSettings s = with_dns();
  s.tls_port = server.port();
  auto p = validate(ChallengeType::kTlsAlpn01, {"dns", "a.example.test"}, kToken, kKeyAuth, s);
  EXPECT_FALSE(p.has_value()) << p->type << ": " << p->detail;
  EXPECT_EQ(server.last_sni(), "a.example.test");
}

}  // namespace
}  // namespace scepter::acme
