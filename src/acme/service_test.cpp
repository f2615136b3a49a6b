// AcmeService against a real Device with one enabled certificate server, driven as the
// HTTPS listener hands requests over; the client side is built with jws_testing.h. The
// http-01 challenges are answered by a small HTTP server of the test on 127.0.0.1 (IP
// identifiers, so no DNS is needed here; DNS is validation_test's and the end-to-end
// tests').
#include "acme/service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "acme/jws.h"
#include "acme/jws_testing.h"
#include "acme/objects.h"
#include "ca/device.h"
#include "ca/device_test_support.h"
#include "common/testing.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/issuer_test_support.h"
#include "pki/key.h"
#include "pki/name.h"

namespace scepter::acme {
namespace {

using nlohmann::json;

constexpr const char* kHost = "ca.example.test:8443";
constexpr const char* kBase = "https://ca.example.test:8443/acme/ca/";

// Answers every HTTP request on 127.0.0.1 with `body` (200), until destroyed.
class HttpResponder {
 public:
  HttpResponder() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { run(); });
  }
  ~HttpResponder() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  void set_body(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    body_ = std::move(body);
  }
  int hits() const { return hits_; }

 private:
  void run() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      std::string request;
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      ++hits_;
      std::string body;
      {
        std::lock_guard<std::mutex> lock(mu_);
        body = body_;
      }
      const std::string answer =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n" + body;
      (void)!::write(c, answer.data(), answer.size());
      ::close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> hits_{0};
  std::mutex mu_;
  std::string body_;
  std::thread thread_;
};

struct Answer {
  int status = 0;
  json body;
  std::string raw;
  std::string location;
  std::string nonce;
};

class AcmeServiceTest : public ::testing::Test, public ca::testing::DeviceWithServer {
 protected:
  AcmeServiceTest() : DeviceWithServer(TimePoint(std::chrono::seconds(1'800'000'000))) {}

  void SetUp() override {
    ASSERT_OK(open_device([this](ca::ServerConfig& c) {
      c.archive_password = "archive-password";
      c.acme.enabled = true;
      c.acme.ip_prefixes = {"127.0.0.0/8"};
      c.acme.dns_suffixes = {"example.test"};
      c.acme.connect_prefixes = {"127.0.0.0/8"};
      c.acme.http_port = http_.port();
      c.acme_auto = true;
    }));
    service_ = std::make_unique<AcmeService>(*device_);
  }

  void configure(const std::function<void(ca::ServerConfig&)>& edit) {
    ASSERT_OK(edit_config(edit));
  }

  Answer send(const std::string& method, const std::string& path, std::string body = "",
              std::string content_type = "application/jose+json") {
    AcmeHttpRequest r;
    r.method = method;
    r.path = "/acme/ca/" + path;
    r.host = kHost;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    r.peer_address = "192.0.2.1";
    AcmeHttpResponse out = service_->handle(r);
    Answer a;
    a.status = out.status;
    a.raw = out.body;
    if (out.content_type.find("json") != std::string::npos && !out.body.empty()) {
      a.body = json::parse(out.body);
    }
    for (const auto& [name, value] : out.headers) {
      if (name == "Location") a.location = value;
      if (name == "Replay-Nonce") a.nonce = value;
    }
    return a;
  }

  std::string nonce() {
    Answer a = send("HEAD", "new-nonce");
    EXPECT_EQ(a.status, 200);
    return a.nonce;
  }

  // A POST signed by `key`: by account `kid`, or with the key itself when kid is empty.
  Answer post(const std::string& path, const pki::Key& key, const std::string& kid,
              const std::string& payload) {
    return send("POST", path,
                test::request_body(key, std::string(kBase) + path, nonce(), kid, payload));
  }

  // A new account for `key`; returns its URL.
  std::string new_account(const pki::Key& key,
                          json payload = json{{"termsOfServiceAgreed", true}}) {
    Answer a = post("new-account", key, "", payload.dump());
    EXPECT_EQ(a.status, 201) << a.raw;
    return a.location;
  }

  static std::string tail(const std::string& url) { return url.substr(std::string(kBase).size()); }

  // Validates every authorization of `order` over http-01.
  void validate(const pki::Key& key, const std::string& kid, const json& order) {
    for (const auto& authz_url : order["authorizations"]) {
      Answer authz = post(tail(authz_url), key, kid, "");
      ASSERT_EQ(authz.status, 200) << authz.raw;
      json http01;
      for (const auto& ch : authz.body["challenges"]) {
        if (ch["type"] == "http-01") http01 = ch;
      }
      ASSERT_FALSE(http01.is_null()) << authz.raw;
      http_.set_body(key_authorization(http01["token"].get<std::string>(), thumbprint(key)));
      Answer started = post(tail(http01["url"]), key, kid, "{}");
      ASSERT_EQ(started.status, 200) << started.raw;
      EXPECT_EQ(started.body["status"], "processing");
      service_->drain_validations();
      Answer after = post(tail(authz_url), key, kid, "");
      EXPECT_EQ(after.body["status"], "valid") << after.raw;
    }
  }

  static std::string thumbprint(const pki::Key& key) {
    std::optional<Jwk> jwk;
    EXPECT_FALSE(parse_jwk(test::jwk_of(key), jwk).has_value());
    return jwk->thumbprint;
  }

  static std::string csr_for(const std::vector<std::string>& sans, const std::string& cn = "") {
    auto key = pki::Key::generate_ec(256);
    pki::Ptr<X509_NAME> name(X509_NAME_new());  // certbot's requests have no subject
    if (!cn.empty()) name = std::move(*pki::parse_dn("CN=" + cn));
    std::string list;
    for (const std::string& s : sans) list += (list.empty() ? "" : ",") + s;
    auto san = pki::issuer_testing::conf_ext(NID_subject_alt_name, list.c_str());
    auto csr = pki::make_csr({.subject = name.get(), .key = *key, .extensions = {san.get()}});
    EXPECT_OK(csr);
    return pki::base64url_encode(csr->der());
  }

  // An order for `identifiers`, validated and finalized: the final order.
  Answer issue(const pki::Key& key, const std::string& kid, const json& identifiers,
               const std::vector<std::string>& sans) {
    Answer order = post("new-order", key, kid, json{{"identifiers", identifiers}}.dump());
    EXPECT_EQ(order.status, 201) << order.raw;
    validate(key, kid, order.body);
    return post(tail(order.body["finalize"]), key, kid, json{{"csr", csr_for(sans)}}.dump());
  }

  // A certificate for 127.0.0.1, ordered by account `kid` and downloaded.
  Result<pki::Certificate> localhost_certificate(const pki::Key& key, const std::string& kid) {
    Answer done =
        issue(key, kid, json::array({{{"type", "ip"}, {"value", "127.0.0.1"}}}), {"IP:127.0.0.1"});
    if (done.status != 200 || !done.body.contains("certificate")) {
      return fail(internal_error("not issued: " + done.raw));
    }
    return pki::Certificate::from_pem(post(tail(done.body["certificate"]), key, kid, "").raw);
  }

  HttpResponder http_;
  std::unique_ptr<AcmeService> service_;
};

TEST_F(AcmeServiceTest, DirectoryNamesEveryResource) {
  Answer d = send("GET", "directory");
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(d.body["newNonce"], std::string(kBase) + "new-nonce");
  EXPECT_EQ(d.body["newAccount"], std::string(kBase) + "new-account");
  EXPECT_EQ(d.body["renewalInfo"], std::string(kBase) + "renewal-info");
  EXPECT_EQ(d.body["meta"]["externalAccountRequired"], false);
  EXPECT_EQ(send("POST", "directory").status, 405);
}

TEST_F(AcmeServiceTest, AnHttp01OrderIsIssuedDownloadedAndRevoked) {
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  ASSERT_TRUE(kid.starts_with(std::string(kBase) + "account/")) << kid;
  Answer done =
      issue(*key, kid, json::array({{{"type", "ip"}, {"value", "127.0.0.1"}}}), {"IP:127.0.0.1"});
  ASSERT_EQ(done.status, 200) << done.raw;
  EXPECT_EQ(done.body["status"], "valid");
  ASSERT_TRUE(done.body.contains("certificate"));
  Answer cert = post(tail(done.body["certificate"]), *key, kid, "");
  ASSERT_EQ(cert.status, 200);
  auto leaf = pki::Certificate::from_pem(cert.raw);
  ASSERT_OK(leaf);
  EXPECT_EQ(leaf->not_after() - leaf->not_before(), std::chrono::hours(24 * 90));
  // Revoked by the account that ordered it; a second time is alreadyRevoked.
  const json revoke{{"certificate", pki::base64url_encode(leaf->der())}, {"reason", 1}};
  EXPECT_EQ(post("revoke-cert", *key, kid, revoke.dump()).status, 200);
  Answer again = post("revoke-cert", *key, kid, revoke.dump());
  EXPECT_EQ(again.body["type"], "urn:ietf:params:acme:error:alreadyRevoked") << again.raw;
  auto crl = server_->current_crl();
  ASSERT_OK(crl);
}

TEST_F(AcmeServiceTest, CertificatesWithAnySerialAreDownloaded) {
  // Serials 2 to 0xF go to other requests: the ACME certificate gets 0x10, whose hex text
  // ("10") must not be read as another number.
  for (int i = 0; i < 14; ++i) {
    auto key = pki::Key::generate_ec(256);
    auto name = pki::parse_dn("CN=other" + std::to_string(i));
    auto csr = pki::make_csr({.subject = name->get(), .key = *key});
    ASSERT_OK(csr);
    auto out = server_->submit(csr->der(), ca::RequestSource::kManualPem);
    ASSERT_OK(out);
    ASSERT_OK(server_->grant(out->request.id));
  }
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  Answer done =
      issue(*key, kid, json::array({{{"type", "ip"}, {"value", "127.0.0.1"}}}), {"IP:127.0.0.1"});
  ASSERT_EQ(done.status, 200) << done.raw;
  Answer cert = post(tail(done.body["certificate"]), *key, kid, "");
  ASSERT_EQ(cert.status, 200) << cert.raw;
  auto leaf = pki::Certificate::from_pem(cert.raw);
  ASSERT_OK(leaf);
  EXPECT_EQ(leaf->serial()->sequence, 16u);
}

TEST_F(AcmeServiceTest, RenewalInfoSuggestsTheLastThirdOrNowOnceRevoked) {
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  auto leaf = localhost_certificate(*key, kid);
  ASSERT_OK(leaf);
  // RFC 9773 4.1: base64url(AKI keyIdentifier) "." base64url(the serial's DER content).
  auto ca = server_->ca_chain();
  ASSERT_OK(ca);
  const std::string serial_der = leaf->serial()->der();
  const std::string cert_id = pki::base64url_encode((*ca)[0].subject_key_id()) + "." +
                              pki::base64url_encode(serial_der.substr(2));
  Answer info = send("GET", "renewal-info/" + cert_id);
  ASSERT_EQ(info.status, 200) << info.raw;
  const auto life = leaf->not_after() - leaf->not_before();
  EXPECT_EQ(info.body["suggestedWindow"]["start"],
            format_iso_time(leaf->not_before() + life * 2 / 3));
  EXPECT_EQ(info.body["suggestedWindow"]["end"], format_iso_time(leaf->not_after() - life / 9));
  // Revoked: renew now.
  ASSERT_OK(server_->revoke(leaf->serial()->sequence, 1));
  Answer now = send("GET", "renewal-info/" + cert_id);
  ASSERT_EQ(now.status, 200) << now.raw;
  EXPECT_LT(now.body["suggestedWindow"]["end"].get<std::string>(), format_iso_time(clock_.now()));
  // Not this CA's, or not a certID.
  EXPECT_EQ(send("GET", "renewal-info/AAAA." + cert_id.substr(cert_id.find('.') + 1)).status, 404);
  EXPECT_EQ(send("GET", "renewal-info/nodot").status, 400);
}

TEST_F(AcmeServiceTest, WithoutGrantAutoAcmeTheOrderWaitsForTheOperator) {
  configure([](ca::ServerConfig& c) { c.acme_auto = false; });
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  Answer done =
      issue(*key, kid, json::array({{{"type", "ip"}, {"value", "127.0.0.1"}}}), {"IP:127.0.0.1"});
  ASSERT_EQ(done.status, 200) << done.raw;
  EXPECT_EQ(done.body["status"], "processing");
  auto requests = server_->requests();
  ASSERT_OK(requests);
  ASSERT_EQ(requests->size(), 1u);
  EXPECT_EQ((*requests)[0].state, store::RequestState::kAuthorized);
  ASSERT_OK(server_->grant((*requests)[0].id));
  Answer polled = post(tail(done.location), *key, kid, "");
  EXPECT_EQ(polled.body["status"], "valid") << polled.raw;
}

TEST_F(AcmeServiceTest, RequestsThatFailTheChecksAreRefusedCleanly) {
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  const std::string url = std::string(kBase) + "new-order";
  const std::string payload =
      json{{"identifiers", json::array({{{"type", "dns"}, {"value", "a.example.test"}}})}}.dump();
  // A replayed nonce.
  const std::string n = nonce();
  EXPECT_EQ(send("POST", "new-order", test::request_body(*key, url, n, kid, payload)).status, 201);
  Answer replay = send("POST", "new-order", test::request_body(*key, url, n, kid, payload));
  EXPECT_EQ(replay.body["type"], "urn:ietf:params:acme:error:badNonce") << replay.raw;
  EXPECT_FALSE(replay.nonce.empty());
  // The url of another resource.
  Answer wrong_url =
      send("POST", "new-order",
           test::request_body(*key, std::string(kBase) + "new-account", nonce(), kid, payload));
  EXPECT_EQ(wrong_url.body["type"], "urn:ietf:params:acme:error:unauthorized");
  // Not JOSE.
  EXPECT_EQ(send("POST", "new-order", "{}", "application/json").status, 415);
  // Too large.
  EXPECT_EQ(send("POST", "new-order", std::string(kMaxJwsSize + 1, 'x')).status, 413);
  // Not a JWS.
  EXPECT_EQ(send("POST", "new-order", "{\"protected\":1}").body["type"],
            "urn:ietf:params:acme:error:malformed");
  // An account that does not exist.
  Answer ghost = post("new-order", *key, std::string(kBase) + "account/nobody", payload);
  EXPECT_EQ(ghost.body["type"], "urn:ietf:params:acme:error:accountDoesNotExist");
  // Another key signing for the account.
  auto other = pki::Key::generate_ec(256);
  Answer forged = post("new-order", *other, kid, payload);
  EXPECT_EQ(forged.status, 400);
  // A name outside the allow-list.
  Answer outside = post(
      "new-order", *key, kid,
      json{{"identifiers", json::array({{{"type", "dns"}, {"value", "a.example.org"}}})}}.dump());
  EXPECT_EQ(outside.body["type"], "urn:ietf:params:acme:error:rejectedIdentifier") << outside.raw;
}

TEST_F(AcmeServiceTest, FinalizeChecksReadinessAndTheCsrNames) {
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  Answer order =
      post("new-order", *key, kid,
           json{{"identifiers", json::array({{{"type", "ip"}, {"value", "127.0.0.1"}}})}}.dump());
  ASSERT_EQ(order.status, 201);
  Answer early = post(tail(order.body["finalize"]), *key, kid,
                      json{{"csr", csr_for({"IP:127.0.0.1"})}}.dump());
  EXPECT_EQ(early.body["type"], "urn:ietf:params:acme:error:orderNotReady") << early.raw;
  validate(*key, kid, order.body);
  Answer extra = post(tail(order.body["finalize"]), *key, kid,
                      json{{"csr", csr_for({"IP:127.0.0.1", "IP:127.0.0.4"})}}.dump());
  EXPECT_EQ(extra.body["type"], "urn:ietf:params:acme:error:badCSR") << extra.raw;
  Answer named = post(tail(order.body["finalize"]), *key, kid,
                      json{{"csr", csr_for({"IP:127.0.0.1"}, "admin")}}.dump());
  EXPECT_EQ(named.body["type"], "urn:ietf:params:acme:error:badCSR") << named.raw;
  // Someone else's order is not theirs to finalize.
  auto other = pki::Key::generate_ec(256);
  const std::string other_kid = new_account(*other);
  Answer theft = post(tail(order.body["finalize"]), *other, other_kid,
                      json{{"csr", csr_for({"IP:127.0.0.1"})}}.dump());
  EXPECT_EQ(theft.status, 403) << theft.raw;
  Answer ok = post(tail(order.body["finalize"]), *key, kid,
                   json{{"csr", csr_for({"IP:127.0.0.1"})}}.dump());
  EXPECT_EQ(ok.body["status"], "valid") << ok.raw;
}

TEST_F(AcmeServiceTest, AWrongKeyAuthorizationInvalidatesTheAuthorization) {
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  Answer order =
      post("new-order", *key, kid,
           json{{"identifiers", json::array({{{"type", "ip"}, {"value", "127.0.0.1"}}})}}.dump());
  Answer authz = post(tail(order.body["authorizations"][0]), *key, kid, "");
  json http01;
  for (const auto& ch : authz.body["challenges"]) {
    if (ch["type"] == "http-01") http01 = ch;
  }
  http_.set_body("not the key authorization");
  post(tail(http01["url"]), *key, kid, "{}");
  service_->drain_validations();
  Answer after = post(tail(order.body["authorizations"][0]), *key, kid, "");
  EXPECT_EQ(after.body["status"], "invalid") << after.raw;
  Answer o = post(tail(order.location), *key, kid, "");
  EXPECT_EQ(o.body["status"], "invalid");
}

TEST_F(AcmeServiceTest, ExternalAccountBindingIsRequiredOnceAKeyExists) {
  const std::string hmac(32, '\x07');
  configure([&](ca::ServerConfig& c) { c.acme.eab_keys["kid-1"] = hmac; });
  auto key = pki::Key::generate_ec(256);
  Answer refused = post("new-account", *key, "", json{{"termsOfServiceAgreed", true}}.dump());
  EXPECT_EQ(refused.body["type"], "urn:ietf:params:acme:error:externalAccountRequired")
      << refused.raw;
  const json bound{{"termsOfServiceAgreed", true},
                   {"externalAccountBinding",
                    test::eab_object(hmac, "kid-1", std::string(kBase) + "new-account", *key)}};
  new_account(*key, bound);
  // The key is spent: another account cannot be bound by it.
  auto second = pki::Key::generate_ec(256);
  const json again{{"termsOfServiceAgreed", true},
                   {"externalAccountBinding",
                    test::eab_object(hmac, "kid-1", std::string(kBase) + "new-account", *second)}};
  Answer reused = post("new-account", *second, "", again.dump());
  EXPECT_EQ(reused.body["type"], "urn:ietf:params:acme:error:unauthorized") << reused.raw;
}

TEST_F(AcmeServiceTest, KeyChangeMovesTheAccountToTheNewKey) {
  auto old_key = pki::Key::generate_ec(256);
  auto new_key = pki::Key::generate_rsa(2048);
  const std::string kid = new_account(*old_key);
  const std::string url = std::string(kBase) + "key-change";
  const json inner = test::key_change_object(*new_key, url, kid, *old_key);
  Answer changed = post("key-change", *old_key, kid, inner.dump());
  ASSERT_EQ(changed.status, 200) << changed.raw;
  // The old key no longer signs for the account; the new one does.
  EXPECT_NE(post(tail(kid), *old_key, kid, "").status, 200);
  EXPECT_EQ(post(tail(kid), *new_key, kid, "").status, 200);
  // newAccount with the new key finds the account.
  Answer found = post("new-account", *new_key, "", json{{"onlyReturnExisting", true}}.dump());
  EXPECT_EQ(found.status, 200);
  EXPECT_EQ(found.location, kid);
}

TEST_F(AcmeServiceTest, DeactivatedAccountsCanDoNothing) {
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  Answer off = post(tail(kid), *key, kid, json{{"status", "deactivated"}}.dump());
  EXPECT_EQ(off.body["status"], "deactivated");
  Answer after =
      post("new-order", *key, kid,
           json{{"identifiers", json::array({{{"type", "ip"}, {"value", "127.0.0.1"}}})}}.dump());
  EXPECT_EQ(after.body["type"], "urn:ietf:params:acme:error:unauthorized");
}

TEST_F(AcmeServiceTest, AnAccountWithAuthorizationsForEveryNameMayRevoke) {
  auto owner_key = pki::Key::generate_ec(256);
  const std::string owner = new_account(*owner_key);
  auto leaf = localhost_certificate(*owner_key, owner);
  ASSERT_OK(leaf);
  const json revoke{{"certificate", pki::base64url_encode(leaf->der())}};
  // Another account, without an authorization for 127.0.0.1: refused.
  auto other_key = pki::Key::generate_ec(256);
  const std::string other = new_account(*other_key);
  Answer refused = post("revoke-cert", *other_key, other, revoke.dump());
  EXPECT_EQ(refused.status, 403) << refused.raw;
  // A pending authorization is not enough.
  Answer pending =
      post("new-order", *other_key, other,
           json{{"identifiers", json::array({{{"type", "ip"}, {"value", "127.0.0.1"}}})}}.dump());
  ASSERT_EQ(pending.status, 201);
  EXPECT_EQ(post("revoke-cert", *other_key, other, revoke.dump()).status, 403);
  // Once it holds a valid one, it may.
  validate(*other_key, other, pending.body);
  Answer revoked = post("revoke-cert", *other_key, other, revoke.dump());
  EXPECT_EQ(revoked.status, 200) << revoked.raw;
  auto record = server_->stored_certificate(leaf->serial()->sequence);
  ASSERT_OK(record);
  EXPECT_TRUE(record->revoked_at.has_value());
}

TEST_F(AcmeServiceTest, AuthorizationsDoNotRevokeADevicesCertificate) {
  // A certificate from a SCEP or pasted request, naming 127.0.0.1: its device's, not an
  // ACME account's, whatever the account has validated.
  auto device_key = pki::Key::generate_ec(256);
  auto name = pki::parse_dn("CN=127.0.0.1");
  auto csr = pki::make_csr({.subject = name->get(), .key = *device_key});
  ASSERT_OK(csr);
  auto submitted = server_->submit(csr->der(), ca::RequestSource::kManualPem);
  ASSERT_OK(submitted);
  auto granted = server_->grant(submitted->request.id);
  ASSERT_OK(granted);
  ASSERT_EQ(granted->size(), 1u);
  const pki::Certificate& device_cert = (*granted)[0].certificate;
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  Answer order =
      post("new-order", *key, kid,
           json{{"identifiers", json::array({{{"type", "ip"}, {"value", "127.0.0.1"}}})}}.dump());
  validate(*key, kid, order.body);
  const json revoke{{"certificate", pki::base64url_encode(device_cert.der())}};
  EXPECT_EQ(post("revoke-cert", *key, kid, revoke.dump()).status, 403);
  // Its own key may.
  EXPECT_EQ(post("revoke-cert", *device_key, "", revoke.dump()).status, 200);
}

TEST_F(AcmeServiceTest, AValidationLostToAStopMayBeAskedForAgain) {
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  Answer order =
      post("new-order", *key, kid,
           json{{"identifiers", json::array({{{"type", "ip"}, {"value", "127.0.0.1"}}})}}.dump());
  const std::string authz_url = order.body["authorizations"][0];
  Answer authz = post(tail(authz_url), *key, kid, "");
  json http01;
  for (const auto& ch : authz.body["challenges"]) {
    if (ch["type"] == "http-01") http01 = ch;
  }
  // The state a stop leaves: "processing", with no validation queued.
  auto store = server_->acme_store();
  ASSERT_OK(store);
  auto record = (*store)->acme(store::AcmeKind::kAuthorization, tail(authz_url).substr(6));
  ASSERT_OK(record);
  auto a = authorization_from(*record);
  ASSERT_OK(a);
  for (Challenge& ch : a->challenges) {
    if (ch.type == ChallengeType::kHttp01) {
      ch.status = "processing";
      ch.started = clock_.now();
    }
  }
  store::WriteBatch batch;
  batch.put_acme(to_record(*a));
  ASSERT_OK((*store)->write(batch));
  http_.set_body(key_authorization(http01["token"].get<std::string>(), thumbprint(*key)));
  // Soon after, asking again changes nothing.
  Answer early = post(tail(http01["url"]), *key, kid, "{}");
  EXPECT_EQ(early.body["status"], "processing");
  service_->drain_validations();
  EXPECT_EQ(http_.hits(), 0);
  // Past kLostValidationAfter, it is validated again.
  clock_.advance(kLostValidationAfter);
  Answer again = post(tail(http01["url"]), *key, kid, "{}");
  EXPECT_EQ(again.body["status"], "processing");
  service_->drain_validations();
  EXPECT_EQ(http_.hits(), 1);
  EXPECT_EQ(post(tail(authz_url), *key, kid, "").body["status"], "valid");
}

TEST_F(AcmeServiceTest, RenewalInfoOpensAtTheSwitchForCertificatesEndingWithTheCa) {
  auto ca = server_->ca_chain();
  ASSERT_OK(ca);
  const TimePoint ca_end = (*ca)[0].not_after();
  configure([](ca::ServerConfig& c) { c.auto_rollover_days = 30; });
  // Ten days before the CA certificate ends, an ACME certificate ends with it.
  clock_.advance(std::chrono::duration_cast<Seconds>(ca_end - clock_.now()) -
                 std::chrono::days(10));
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  auto leaf = localhost_certificate(*key, kid);
  ASSERT_OK(leaf);
  ASSERT_EQ(leaf->not_after(), ca_end);
  const std::string serial_der = leaf->serial()->der();
  const std::string cert_id = pki::base64url_encode(leaf->authority_key_id()) + "." +
                              pki::base64url_encode(serial_der.substr(2));
  AcmeHttpRequest r;
  r.method = "GET";
  r.path = "/acme/ca/renewal-info/" + cert_id;
  r.host = kHost;
  AcmeHttpResponse info = service_->handle(r);
  ASSERT_EQ(info.status, 200) << info.body;
  const json window = json::parse(info.body)["suggestedWindow"];
  EXPECT_EQ(window["start"], format_iso_time(ca_end));
  EXPECT_EQ(window["end"], format_iso_time(ca_end + kSwitchRenewalWindow));
  // Asked again by the switch (or in six hours, whichever comes first).
  bool retry = false;
  for (const auto& [name, value] : info.headers) {
    if (name == "Retry-After") {
      retry = true;
      EXPECT_EQ(value, std::to_string(6 * 3600));
    }
  }
  EXPECT_TRUE(retry);
  // A certID whose serial is right but whose key is not: no such certificate.
  r.path = "/acme/ca/renewal-info/" + pki::base64url_encode(std::string(20, 'k')) + "." +
           pki::base64url_encode(serial_der.substr(2));
  EXPECT_EQ(service_->handle(r).status, 404);
}

TEST_F(AcmeServiceTest, RateLimitsAreTheServersSettings) {
  configure([](ca::ServerConfig& c) {
    c.acme.accounts_per_minute = 2;
    c.acme.orders_per_minute = 3;
  });
  auto key = pki::Key::generate_ec(256);
  const std::string kid = new_account(*key);
  const std::string order =
      json{{"identifiers", json::array({{{"type", "ip"}, {"value", "127.0.0.1"}}})}}.dump();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(post("new-order", *key, kid, order).status, 201);
  Answer limited = post("new-order", *key, kid, order);
  EXPECT_EQ(limited.status, 429) << limited.raw;
  EXPECT_EQ(limited.body["type"], "urn:ietf:params:acme:error:rateLimited");
  // A minute later, orders again.
  clock_.advance(Seconds(60));
  EXPECT_EQ(post("new-order", *key, kid, order).status, 201);
  // Accounts from one address: two a minute (the first was made a minute ago).
  clock_.advance(Seconds(60));
  for (int i = 0; i < 2; ++i) new_account(*pki::Key::generate_ec(256));
  Answer too_many = post("new-account", *pki::Key::generate_ec(256), "",
                         json{{"termsOfServiceAgreed", true}}.dump());
  EXPECT_EQ(too_many.body["type"], "urn:ietf:params:acme:error:rateLimited") << too_many.raw;
}

TEST(NoncePool, OnlyTheNewestAreLiveWhetherUsedOrNot) {
  NoncePool pool;
  const std::string first = pool.issue();
  // As many again, each used at once: the pool holds what it issued, used or not, so
  // the first has fallen off (and the memory stays bounded under steady use).
  for (std::size_t i = 0; i < kMaxNonces; ++i) EXPECT_TRUE(pool.consume(pool.issue()));
  EXPECT_FALSE(pool.consume(first));
  const std::string fresh = pool.issue();
  EXPECT_TRUE(pool.consume(fresh));
  EXPECT_FALSE(pool.consume(fresh));
}

store::CertRecord cert_valid(TimePoint from, TimePoint to) {
  store::CertRecord r;
  r.not_before = from;
  r.not_after = to;
  return r;
}

TEST(RenewalWindow, LastThirdNowOrAtTheSwitch) {
  const TimePoint t0(Seconds(1'800'000'000));
  const auto day = std::chrono::days(1);
  const store::CertRecord cert = cert_valid(t0, t0 + 90 * day);
  // Ordinary: the last third, ending a ninth before the end.
  RenewalWindow w = renewal_window(cert, true, std::nullopt, t0 + day);
  EXPECT_EQ(w.start, t0 + 60 * day);
  EXPECT_EQ(w.end, t0 + 80 * day);
  EXPECT_EQ(w.retry_after, Seconds(6 * 3600));
  // A CA switch after the certificate's end changes nothing.
  EXPECT_EQ(renewal_window(cert, true, t0 + 91 * day, t0 + day).start, t0 + 60 * day);
  // Revoked, or signed by a key the CA has rolled over from: a window in the past.
  store::CertRecord revoked = cert;
  revoked.revoked_at = t0 + day;
  w = renewal_window(revoked, true, std::nullopt, t0 + 2 * day);
  EXPECT_LT(w.end, t0 + 2 * day);
  EXPECT_LT(w.start, w.end);
  w = renewal_window(cert, false, std::nullopt, t0 + 2 * day);
  EXPECT_LT(w.end, t0 + 2 * day);
  // Ending with the CA certificate: from the switch; asked again by then.
  w = renewal_window(cert, true, t0 + 90 * day, t0 + 90 * day - Seconds(600));
  EXPECT_EQ(w.start, t0 + 90 * day);
  EXPECT_EQ(w.end, t0 + 90 * day + kSwitchRenewalWindow);
  EXPECT_EQ(w.retry_after, Seconds(600));
  EXPECT_EQ(renewal_window(cert, true, t0 + 90 * day, t0 + 90 * day).retry_after, Seconds(60));
}

}  // namespace
}  // namespace scepter::acme
