// EstService against a real Device with one enabled certificate server: requests are
// built as EST clients build them (a base64 PKCS#10, HTTP Basic, a TLS client
// certificate's DER), and answers read back as they read them.
#include "est/service.h"

#include <thread>

#include <gtest/gtest.h>

#include "ca/device.h"
#include "ca/device_test_support.h"
#include "common/testing.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/identity.h"
#include "pki/name.h"
#include "pki/password_hash.h"
#include "scep/client.h"

namespace scepter::est {
namespace {

std::string header(const EstHttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

std::string basic(std::string_view user, std::string_view password) {
  return "Basic " + pki::base64_encode(std::string(user) + ":" + std::string(password), 0);
}

TEST(EstPathTest, TheThreeFormsAndNothingElse) {
  auto p = parse_path("/.well-known/est/simpleenroll");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->label, "");
  EXPECT_EQ(p->operation, "simpleenroll");
  p = parse_path("/.well-known/est/ca2/cacerts");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->label, "ca2");
  EXPECT_EQ(p->operation, "cacerts");
  p = parse_path("/ca2/.well-known/est/simplereenroll");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->label, "ca2");
  EXPECT_EQ(p->operation, "simplereenroll");
  for (const char* bad :
       {"/", "/.well-known/est", "/.well-known/est/", "/.well-known/estx/a",
        "/.well-known/est//cacerts", "/.well-known/est/a/b/c", "/a/b/.well-known/est/cacerts",
        "x/.well-known/est/cacerts", "/ca/.well-known/est/a/cacerts", "/cgi-bin/pkiclient.exe"}) {
    EXPECT_FALSE(parse_path(bad)) << bad;
  }
}

TEST(EstBasicTest, PasswordAfterTheFirstColon) {
  auto c = basic_credentials(basic("u", "p:w"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "u");
  EXPECT_EQ(c->password, "p:w");
  c = basic_credentials("basic " + pki::base64_encode(":secret", 0));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "");
  EXPECT_EQ(c->password, "secret");
  EXPECT_FALSE(basic_credentials("Bearer abc"));
  EXPECT_FALSE(basic_credentials("Basic !!!"));
  EXPECT_FALSE(basic_credentials("Basic " + pki::base64_encode("nocolon", 0)));
  EXPECT_FALSE(basic_credentials("Basi"));
}

class EstServiceTest : public ::testing::Test, public ca::testing::DeviceWithServer {
 protected:
  void SetUp() override {
    ASSERT_OK(open_device([](ca::ServerConfig& c) {
      c.archive_password = "archive-password";
      c.est = true;
    }));
    service_ = std::make_unique<EstService>(*device_);
  }

  void edit(const std::function<void(ca::ServerConfig&)>& f) { ASSERT_OK(edit_config(f)); }

  // A base64 PKCS#10 for a new P-256 key, wrapped at 64 columns as openssl writes it.
  std::string csr(std::string_view dn, pki::Key* key_out = nullptr) {
    auto key = pki::Key::generate_ec(256);
    EXPECT_OK(key);
    auto subject = pki::parse_dn(dn);
    EXPECT_OK(subject);
    auto req = pki::make_csr({.subject = subject->get(), .key = *key});
    EXPECT_OK(req);
    if (key_out != nullptr) *key_out = *key;
    return pki::base64_encode(req->der(), 64);
  }

  EstHttpResponse post(std::string op, std::string body, std::optional<std::string> auth,
                       std::string peer = "") {
    EstHttpRequest r;
    r.method = "POST";
    r.path = "/.well-known/est/" + op;
    r.authorization = std::move(auth);
    r.body = std::move(body);
    r.peer_certificate_der = std::move(peer);
    return service_->handle(r);
  }

  std::string otp() {
    auto p = server_->generate_password(60);
    EXPECT_OK(p);
    return p->password;
  }

  // The certificate of a 200 answer.
  pki::Certificate issued(const EstHttpResponse& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, "application/pkcs7-mime; smime-type=certs-only");
    EXPECT_EQ(r.body.find('\n'), std::string::npos) << "base64 on one line";
    auto der = pki::base64_decode(r.body);
    EXPECT_OK(der);
    auto certs = scep::decode_certs_only(*der);
    EXPECT_OK(certs);
    EXPECT_EQ(certs->certificates.size(), 1u);
    auto cert = pki::Certificate::from_x509(pki::up_ref(certs->certificates.at(0).get()));
    EXPECT_OK(cert);
    return *cert;
  }

  std::unique_ptr<EstService> service_;
};

TEST_F(EstServiceTest, CaCertsIsTheCaCertificateOnOneLine) {
  EstHttpRequest r{"GET", "/.well-known/est/cacerts", std::nullopt, "", ""};
  EstHttpResponse a = service_->handle(r);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.content_type, "application/pkcs7-mime");
  EXPECT_EQ(a.body.find('\n'), std::string::npos);
  auto certs = scep::decode_certs_only(*pki::base64_decode(a.body));
  ASSERT_OK(certs);
  ASSERT_EQ(certs->certificates.size(), 1u);
  auto chain = server_->ca_chain();
  ASSERT_OK(chain);
  EXPECT_EQ(pki::Certificate::from_x509(pki::up_ref(certs->certificates[0].get()))->der(),
            chain->front().der());
  // By label, in both places.
  r.path = "/.well-known/est/ca/cacerts";
  EXPECT_EQ(service_->handle(r).body, a.body);
  r.path = "/ca/.well-known/est/cacerts";
  EXPECT_EQ(service_->handle(r).body, a.body);
  r.path = "/.well-known/est/other/cacerts";
  EXPECT_EQ(service_->handle(r).status, 404);
  r.method = "POST";
  r.path = "/.well-known/est/cacerts";
  EXPECT_EQ(service_->handle(r).status, 405);
}

TEST_F(EstServiceTest, CsrAttrsNameTheSignatureAlgorithms) {
  EstHttpRequest r{"GET", "/.well-known/est/csrattrs", std::nullopt, "", ""};
  EstHttpResponse a = service_->handle(r);
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.content_type, "application/csrattrs");
  // SEQUENCE { sha256WithRSAEncryption, ecdsa-with-SHA256 }
  EXPECT_EQ(pki::hex_upper(*pki::base64_decode(a.body)),
            "301506092A864886F70D01010B06082A8648CE3D040302");
  edit([](ca::ServerConfig& c) { c.hash = pki::Hash::kSha384; });
  EXPECT_EQ(pki::hex_upper(*pki::base64_decode(service_->handle(r).body)),
            "301506092A864886F70D01010C06082A8648CE3D040303");
}

TEST_F(EstServiceTest, NoEstNoService) {
  edit([](ca::ServerConfig& c) { c.est = false; });
  EstHttpRequest r{"GET", "/.well-known/est/cacerts", std::nullopt, "", ""};
  EXPECT_EQ(service_->handle(r).status, 404);
}

TEST_F(EstServiceTest, UnauthenticatedGets401BeforeTheBodyIsRead) {
  EstHttpResponse a = post("simpleenroll", "not even base64 !!!", std::nullopt);
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(header(a, "WWW-Authenticate"), "Basic realm=\"EST ca\", charset=\"UTF-8\"");
  otp();  // a live password, but not this one
  EXPECT_EQ(post("simpleenroll", csr("CN=d1"), basic("u", "wrong")).status, 401);
  // A self-signed client certificate proves nothing.
  EXPECT_EQ(post("simpleenroll", csr("CN=d1"), std::nullopt, "garbage-der").status, 401);
  EXPECT_EQ(server_->requests()->size(), 0u);
}

TEST_F(EstServiceTest, OneTimePasswordGrantsOnceUnderManualGrant) {
  const std::string password = otp();
  pki::Certificate cert =
      issued(post("simpleenroll", csr("CN=d1,O=Example"), basic("any", password)));
  EXPECT_EQ(pki::format_dn_config(cert.subject()), "CN=d1, O=Example");
  // Used: a second request with it is not authenticated.
  EXPECT_EQ(post("simpleenroll", csr("CN=d2"), basic("any", password)).status, 401);
}

TEST_F(EstServiceTest, BadBodiesAreRefusedClearly) {
  const std::string password = otp();
  EXPECT_EQ(post("simpleenroll", "%%%", basic("u", password)).status, 400);
  EXPECT_EQ(post("simpleenroll", pki::base64_encode("not der", 0), basic("u", password)).status,
            400);
  EXPECT_EQ(post("simpleenroll", std::string(200 * 1024, 'A'), basic("u", password)).status, 413);
  EXPECT_EQ(post("serverkeygen", "%%%", basic("u", password)).status, 400);
  EXPECT_EQ(post("fullcmc", "", basic("u", password)).status, 501);
  EXPECT_EQ(post("nosuchop", "", basic("u", password)).status, 404);
  // The password is still there: none of these consumed it.
  EXPECT_TRUE(server_->one_time_password_matches(password));
}

TEST_F(EstServiceTest, ManualGrantAnswers202ThenTheCertificate) {
  // A device holding a certificate of ours asks for another identity: it waits.
  pki::Certificate first = issued(post("simpleenroll", csr("CN=dev"), basic("u", otp())));
  const std::string body = csr("CN=other");
  EstHttpResponse a = post("simpleenroll", body, std::nullopt, std::string(first.der()));
  ASSERT_EQ(a.status, 202) << a.body;
  EXPECT_EQ(header(a, "Retry-After"), "60");
  edit([](ca::ServerConfig& c) { c.est_retry_after_seconds = 15; });
  // Asked again: the same request, not a second one.
  a = post("simpleenroll", body, std::nullopt, std::string(first.der()));
  EXPECT_EQ(a.status, 202);
  EXPECT_EQ(header(a, "Retry-After"), "15");
  auto open = server_->requests();
  ASSERT_OK(open);
  ASSERT_EQ(open->size(), 2u);  // the granted first one and the pending one
  ASSERT_OK(server_->grant(std::nullopt));
  pki::Certificate second =
      issued(post("simpleenroll", body, std::nullopt, std::string(first.der())));
  EXPECT_EQ(pki::format_dn_config(second.subject()), "CN=other");
}

TEST_F(EstServiceTest, ReenrolmentByTheCurrentCertificate) {
  pki::Certificate first = issued(post("simpleenroll", csr("CN=dev"), basic("u", otp())));
  // Renewed without the operator (grant auto renewal), for the same identity only.
  pki::Certificate renewed =
      issued(post("simplereenroll", csr("CN=dev"), std::nullopt, std::string(first.der())));
  EXPECT_NE(renewed.der(), first.der());
  EXPECT_EQ(
      post("simplereenroll", csr("CN=someone-else"), std::nullopt, std::string(first.der())).status,
      400);
  // Without the certificate, or with a password alone: 401.
  EXPECT_EQ(post("simplereenroll", csr("CN=dev"), std::nullopt).status, 401);
  EXPECT_EQ(post("simplereenroll", csr("CN=dev"), basic("u", otp())).status, 401);
  // A revoked certificate authenticates nothing.
  ASSERT_OK(server_->revoke(*first.serial()));
  EXPECT_EQ(post("simplereenroll", csr("CN=dev"), std::nullopt, std::string(first.der())).status,
            401);
}

// An `est user` account authenticates; what it gets is the grant mode's decision.
TEST_F(EstServiceTest, AccountsAuthenticateAndTheGrantModeDecides) {
  edit([](ca::ServerConfig& c) { c.est_users["router7"] = *pki::type9_hash("acc0unt-pw"); });
  EstHttpResponse a = post("simpleenroll", csr("CN=r7"), basic("router7", "acc0unt-pw"));
  EXPECT_EQ(a.status, 202) << a.body;  // manual grant: the operator decides
  edit([](ca::ServerConfig& c) { c.grant = ca::GrantMode::kAuto; });
  issued(post("simpleenroll", csr("CN=r7b"), basic("router7", "acc0unt-pw")));
  EXPECT_EQ(post("simpleenroll", csr("CN=r7"), basic("router7", "wrong")).status, 401);
  EXPECT_EQ(post("simpleenroll", csr("CN=r7"), basic("nobody", "acc0unt-pw")).status, 401);
  // An account is not a certificate: no re-enrolment with it.
  EXPECT_EQ(post("simplereenroll", csr("CN=r7"), basic("router7", "acc0unt-pw")).status, 401);
}

// Wrong passwords for an account: a few a minute are checked, then none until the minute
// is over, the right one included; the remembered right one still costs nothing.
TEST_F(EstServiceTest, AccountTakesFewWrongPasswordsAMinute) {
  edit([](ca::ServerConfig& c) {
    c.grant = ca::GrantMode::kAuto;
    c.est_users["a"] = *pki::type9_hash("right");
    c.est_users["b"] = *pki::type9_hash("other");
  });
  for (int i = 0; i < kMaxAccountFailures; ++i) {
    EXPECT_EQ(post("simpleenroll", csr("CN=x"), basic("a", "wrong")).status, 401);
  }
  EXPECT_EQ(post("simpleenroll", csr("CN=x"), basic("a", "right")).status, 401);
  issued(post("simpleenroll", csr("CN=y"), basic("b", "other")));  // another account
  clock_.advance(Seconds(61));
  issued(post("simpleenroll", csr("CN=x"), basic("a", "right")));
  // Remembered: accepted even while wrong passwords have used up the minute again.
  for (int i = 0; i < kMaxAccountFailures; ++i) {
    EXPECT_EQ(post("simpleenroll", csr("CN=x"), basic("a", "wrong")).status, 401);
  }
  issued(post("simpleenroll", csr("CN=z"), basic("a", "right")));
  // A new secret for the account: the remembered password no longer counts.
  edit([](ca::ServerConfig& c) { c.est_users["a"] = *pki::type9_hash("changed"); });
  clock_.advance(Seconds(61));
  EXPECT_EQ(post("simpleenroll", csr("CN=x"), basic("a", "right")).status, 401);
  issued(post("simpleenroll", csr("CN=w"), basic("a", "changed")));
}

TEST_F(EstServiceTest, PolicyRefusalIs400AndStoresNothing) {
  edit([](ca::ServerConfig& c) { c.grant = ca::GrantMode::kNone; });
  const std::string password = otp();
  EstHttpResponse a = post("simpleenroll", csr("CN=d"), basic("u", password));
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(server_->requests()->size(), 0u);
}

// What a serverkeygen 200 carries: the key (PKCS#8) and the certificate (certs-only), as
// the two parts of a multipart/mixed body, each base64.
struct KeyAndCertificate {
  pki::Key key;
  pki::Certificate certificate;
};

std::string part_body(const std::string& body, std::size_t from, std::string_view type) {
  const std::string marker = "Content-Type: " + std::string(type) + "\r\n";
  const std::size_t at = body.find(marker, from);
  EXPECT_NE(at, std::string::npos) << type;
  if (at == std::string::npos) return "";
  const std::size_t start = body.find("\r\n\r\n", at) + 4;
  return body.substr(start, body.find("\r\n--", start) - start);
}

KeyAndCertificate key_and_certificate(const EstHttpResponse& r) {
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "multipart/mixed; boundary=est-scepter-boundary");
  EXPECT_EQ(header(r, "Cache-Control"), "no-store");
  EXPECT_TRUE(r.body.starts_with("--est-scepter-boundary\r\n")) << r.body;
  EXPECT_TRUE(r.body.ends_with("\r\n--est-scepter-boundary--\r\n")) << r.body;
  auto key_der = pki::base64_decode(part_body(r.body, 0, "application/pkcs8"));
  EXPECT_OK(key_der);
  auto key = pki::Key::from_pkcs8_der(*key_der);
  EXPECT_OK(key);
  auto p7 =
      pki::base64_decode(part_body(r.body, 0, "application/pkcs7-mime; smime-type=certs-only"));
  EXPECT_OK(p7);
  auto certs = scep::decode_certs_only(*p7);
  EXPECT_OK(certs);
  EXPECT_EQ(certs->certificates.size(), 1u);
  auto cert = pki::Certificate::from_x509(pki::up_ref(certs->certificates.at(0).get()));
  EXPECT_OK(cert);
  auto cert_key = cert->public_key();
  EXPECT_OK(cert_key);
  EXPECT_TRUE(cert_key->equals_public(*key)) << "the certificate is for the key sent";
  return {*key, *cert};
}

std::string rsa_csr(std::string_view dn, int bits) {
  auto key = pki::Key::generate_rsa(bits);
  EXPECT_OK(key);
  auto subject = pki::parse_dn(dn);
  EXPECT_OK(subject);
  auto req = pki::make_csr({.subject = subject->get(), .key = *key});
  EXPECT_OK(req);
  return pki::base64_encode(req->der(), 64);
}

TEST_F(EstServiceTest, ServerkeygenSendsAKeyOfTheKindAskedForAndItsCertificate) {
  pki::Key client_key = *pki::Key::generate_ec(256);
  const std::string body = csr("CN=kg", &client_key);
  KeyAndCertificate got = key_and_certificate(post("serverkeygen", body, basic("u", otp())));
  EXPECT_TRUE(got.key.is_ec());
  EXPECT_EQ(got.key.bits(), 256);
  EXPECT_FALSE(got.key.equals_public(client_key)) << "the request's own key is not used";
  EXPECT_EQ(pki::format_dn_config(got.certificate.subject()), "CN=kg");
  // RSA in the request: an RSA key of that size.
  KeyAndCertificate rsa =
      key_and_certificate(post("serverkeygen", rsa_csr("CN=kg-rsa", 3072), basic("u", otp())));
  EXPECT_TRUE(rsa.key.is_rsa());
  EXPECT_EQ(rsa.key.bits(), 3072);
  // By the client's certificate, under manual grant: the request waits (below).
  // A key of another kind, or one encrypted to another key: refused, nothing stored.
  const std::size_t stored = server_->requests()->size();
  EstHttpResponse weak = post("serverkeygen", rsa_csr("CN=weak", 1024), basic("u", otp()));
  EXPECT_EQ(weak.status, 400);
  EXPECT_NE(weak.body.find("RSA 1024 is none of them"), std::string::npos) << weak.body;
  auto decrypt_key = pki::Key::generate_ec(256);
  auto subject = pki::parse_dn("CN=enc");
  auto with_decrypt_id = pki::make_csr({.subject = subject->get(),
                                        .key = *decrypt_key,
                                        .octet_attributes = {{"1.2.840.113549.1.9.16.2.37", "k"}}});
  ASSERT_OK(with_decrypt_id);
  EXPECT_EQ(post("serverkeygen", pki::base64_encode(with_decrypt_id->der(), 64), basic("u", otp()))
                .status,
            501);
  EXPECT_EQ(post("serverkeygen", csr("CN=anon"), std::nullopt).status, 401);
  EXPECT_EQ(post("fullcmc", csr("CN=anon"), basic("u", otp())).status, 501);
  EXPECT_EQ(server_->requests()->size(), stored);
}

// Under manual grant the key waits with the request, sealed; the client asks again with
// the same request and gets the key made the first time.
TEST_F(EstServiceTest, ServerkeygenKeyWaitsSealedWithTheRequest) {
  edit([](ca::ServerConfig& c) { c.est_users["r9"] = *pki::type9_hash("acc0unt-pw"); });
  const std::string body = rsa_csr("CN=waits", 2048);
  EstHttpResponse a = post("serverkeygen", body, basic("r9", "acc0unt-pw"));
  ASSERT_EQ(a.status, 202) << a.body;
  a = post("serverkeygen", body, basic("r9", "acc0unt-pw"));
  EXPECT_EQ(a.status, 202) << a.body;
  auto open = server_->requests();
  ASSERT_OK(open);
  ASSERT_EQ(open->size(), 1u) << "asked twice, stored once";
  // What is stored is a request for the key made here, which it holds only sealed.
  auto stored = pki::Csr::parse(open->front().csr_der);
  ASSERT_OK(stored);
  ASSERT_OK(stored->verify_signature());
  ASSERT_OK(server_->grant(std::nullopt));
  KeyAndCertificate first =
      key_and_certificate(post("serverkeygen", body, basic("r9", "acc0unt-pw")));
  EXPECT_TRUE(first.key.equals_public(stored->public_key()));
  auto pkcs8 = first.key.to_pkcs8_der();
  ASSERT_OK(pkcs8);
  EXPECT_EQ(open->front().csr_der.find(*pkcs8), std::string::npos);
  EXPECT_EQ(open->front().csr_der.find(pkcs8->substr(pkcs8->size() - 32)), std::string::npos)
      << "no part of the private key is stored in clear";
  // Asked again: the same key and certificate, nothing issued twice.
  KeyAndCertificate again =
      key_and_certificate(post("serverkeygen", body, basic("r9", "acc0unt-pw")));
  EXPECT_TRUE(again.key.equals_public(first.key));
  EXPECT_EQ(again.certificate.der(), first.certificate.der());
  EXPECT_EQ(server_->requests()->size(), 1u);
  // Once the request is removed, its key is gone with it: the same bytes are a new
  // request, for a new key.
  ASSERT_OK(server_->remove(std::nullopt));
  ASSERT_EQ(post("serverkeygen", body, basic("r9", "acc0unt-pw")).status, 202);
  ASSERT_OK(server_->grant(std::nullopt));
  KeyAndCertificate fresh =
      key_and_certificate(post("serverkeygen", body, basic("r9", "acc0unt-pw")));
  EXPECT_FALSE(fresh.key.equals_public(first.key));
}

// Keys are made one at a time: while an RSA-4096 key is being made, another request that
// needs a key is told to come back (503, Retry-After), and nothing of it is stored.
TEST_F(EstServiceTest, ServerkeygenMakesOneKeyAtATime) {
  edit([](ca::ServerConfig& c) {
    c.grant = ca::GrantMode::kAuto;
    c.est_users["r1"] = *pki::type9_hash("acc0unt-pw");
  });
  const std::string slow = rsa_csr("CN=slow", 4096);
  const std::string other = csr("CN=other");
  EstHttpResponse first;
  std::thread maker([&] { first = post("serverkeygen", slow, basic("r1", "acc0unt-pw")); });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!server_->making_key() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(server_->making_key());
  EstHttpResponse busy = post("serverkeygen", other, basic("r1", "acc0unt-pw"));
  maker.join();
  EXPECT_EQ(busy.status, 503) << busy.body;
  EXPECT_FALSE(header(busy, "Retry-After").empty());
  KeyAndCertificate made = key_and_certificate(first);
  EXPECT_EQ(made.key.bits(), 4096);
  EXPECT_EQ(server_->requests()->size(), 1u) << "the busy request left nothing";
  EXPECT_FALSE(server_->making_key());
  key_and_certificate(post("serverkeygen", other, basic("r1", "acc0unt-pw")));
}

TEST_F(EstServiceTest, DisabledServerIsNotFound) {
  server_->shutdown();
  EstHttpRequest r{"GET", "/.well-known/est/cacerts", std::nullopt, "", ""};
  EXPECT_EQ(service_->handle(r).status, 404);
}

}  // namespace
}  // namespace scepter::est
