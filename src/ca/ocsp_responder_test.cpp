// `ocsp` under crypto pki server: the CA's answers from its database, checked with
// OpenSSL's OCSP reader; the cache, which never serves a status the database no longer
// holds; and the authorityInfoAccess of issued certificates.
#include "ca/ocsp_responder.h"

#include <gtest/gtest.h>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "pki/io.h"
#include "pki/ocsp_testing.h"
#include "pki/test_support.h"

namespace scepter::ca {
namespace {

using namespace std::chrono_literals;
using pki::ocsp::testing::Checked;
using pki::ocsp::testing::openssl_check;
using pki::ocsp::testing::openssl_request;
using testing::make_csr_der;
using testing::ServerHarness;

constexpr char kUrl[] = "http://ca.example.com:8080/ocsp";

class OcspResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(h_.set([](ServerConfig& c) {
      c.grant = GrantMode::kAuto;
      c.ocsp = true;
      c.ocsp_url = kUrl;
    }));
    ASSERT_OK(h_.server().enable({}));
    ca_ = h_.server().info().ca_certificate;
    ASSERT_TRUE(ca_.has_value());
  }
  pki::Certificate issue(const std::string& subject) {
    auto out = h_.server().submit(make_csr_der(subject), RequestSource::kManualPem);
    EXPECT_OK(out);
    return *out->certificate;
  }
  std::shared_ptr<OcspResponder> responder() {
    auto r = h_.server().ocsp_responder();
    EXPECT_NE(r, nullptr);
    return r;
  }
  // The answer to `der`, and what OpenSSL reads in it about `serial`.
  Checked ask(const std::string& der, long serial, OcspAnswer* answer = nullptr) {
    auto req = pki::ocsp::parse_request(der);
    EXPECT_OK(req);
    OcspAnswer a = responder()->answer(*req);
    if (answer) *answer = a;
    return openssl_check(*a.der, *ca_, serial, der, to_unix(h_.clock().now()));
  }

  ServerHarness h_;
  std::optional<pki::Certificate> ca_;
};

TEST_F(OcspResponderTest, AnswersFromTheDatabase) {
  const long serial = static_cast<long>(testing::serial_of(issue("CN=good")));
  Checked good = ask(openssl_request(*ca_, {serial}, EVP_sha1(), 16), serial);
  EXPECT_EQ(good.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
  EXPECT_EQ(good.verify, 1);
  EXPECT_EQ(good.nonce, 1);
  EXPECT_EQ(good.cert_status, V_OCSP_CERTSTATUS_GOOD);
  EXPECT_EQ(good.this_update, to_unix(h_.clock().now()));
  EXPECT_EQ(good.next_update, to_unix(h_.clock().now() + 24h));

  Checked unknown = ask(openssl_request(*ca_, {serial + 100}), serial + 100);
  EXPECT_EQ(unknown.verify, 1);
  EXPECT_EQ(unknown.cert_status, V_OCSP_CERTSTATUS_UNKNOWN);

  // SHA-256 CertIDs name the CA too.
  Checked sha256 = ask(openssl_request(*ca_, {serial}, EVP_sha256()), serial);
  EXPECT_EQ(sha256.verify, 1);

  // Another CA's certificates: unauthorized, unsigned.
  const pki::Certificate other = pki::test::make_test_ca(pki::test::ec_key_256(), "other");
  const std::string foreign_der = openssl_request(other, {serial});
  auto foreign = pki::ocsp::parse_request(foreign_der);
  ASSERT_OK(foreign);
  EXPECT_FALSE(responder()->serves(*foreign));
  OcspAnswer refused = responder()->answer(*foreign);
  EXPECT_EQ(*refused.der, pki::ocsp::error_response(pki::ocsp::ResponseStatus::kUnauthorized));
}

TEST_F(OcspResponderTest, ARevocationIsSeenAtOnce) {
  const long serial = static_cast<long>(testing::serial_of(issue("CN=soon-revoked")));
  const std::string der = openssl_request(*ca_, {serial});
  auto req = pki::ocsp::parse_request(der);
  ASSERT_OK(req);
  OcspAnswer first;
  EXPECT_EQ(ask(der, serial, &first).cert_status, V_OCSP_CERTSTATUS_GOOD);
  // Cached: the same bytes, without a signature.
  auto again = responder()->cached(*req);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->der, first.der);

  h_.clock().advance(5s);
  ASSERT_OK(h_.server().revoke(static_cast<Serial>(serial)));
  EXPECT_FALSE(responder()->cached(*req).has_value());
  Checked revoked = ask(der, serial);
  EXPECT_EQ(revoked.verify, 1);
  EXPECT_EQ(revoked.cert_status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(revoked.revoked_at, to_unix(h_.clock().now()));

  EXPECT_EQ(revoked.reason, -1);  // none given

  ASSERT_OK(h_.server().unrevoke(static_cast<Serial>(serial)));
  EXPECT_EQ(ask(der, serial).cert_status, V_OCSP_CERTSTATUS_GOOD);
  ASSERT_OK(h_.server().revoke(static_cast<Serial>(serial), 1));
  Checked compromised = ask(der, serial);
  EXPECT_EQ(compromised.cert_status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(compromised.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
}

// What the network thread may sign (answer_from_memory): a status the cache holds for
// the current revision, never one the database has to give, so a revocation is never
// answered from memory with the status before it.
TEST_F(OcspResponderTest, AnswersFromMemoryOnlyWithAStatusItHolds) {
  const long serial = static_cast<long>(testing::serial_of(issue("CN=memory")));
  const std::string der = openssl_request(*ca_, {serial}, EVP_sha1(), 16);  // a nonce
  auto req = pki::ocsp::parse_request(der);
  ASSERT_OK(req);
  // Nothing known yet: the database must be read.
  EXPECT_FALSE(responder()->answer_from_memory(*req).has_value());
  EXPECT_EQ(ask(der, serial).cert_status, V_OCSP_CERTSTATUS_GOOD);
  // Known now: signed for this nonce from memory, and never the cached bytes.
  auto fresh = responder()->answer_from_memory(*req);
  ASSERT_TRUE(fresh.has_value());
  Checked c = openssl_check(*fresh->der, *ca_, serial, der, to_unix(h_.clock().now()));
  EXPECT_EQ(c.verify, 1);
  EXPECT_EQ(c.nonce, 1);
  EXPECT_EQ(c.cert_status, V_OCSP_CERTSTATUS_GOOD);

  // After a revocation the status in memory is stale: back to the database.
  h_.clock().advance(5s);
  ASSERT_OK(h_.server().revoke(static_cast<Serial>(serial)));
  EXPECT_FALSE(responder()->answer_from_memory(*req).has_value());
  EXPECT_EQ(ask(der, serial).cert_status, V_OCSP_CERTSTATUS_REVOKED);
  auto revoked = responder()->answer_from_memory(*req);
  ASSERT_TRUE(revoked.has_value());
  EXPECT_EQ(openssl_check(*revoked->der, *ca_, serial, der, to_unix(h_.clock().now())).cert_status,
            V_OCSP_CERTSTATUS_REVOKED);

  // Another issuer: refused from memory as by answer().
  // (A parsed request points into its DER, which must outlive it.)
  const pki::Certificate other = pki::test::make_test_ca(pki::test::ec_key_256(), "other");
  const std::string foreign_der = openssl_request(other, {serial});
  auto foreign = pki::ocsp::parse_request(foreign_der);
  ASSERT_OK(foreign);
  auto refused = responder()->answer_from_memory(*foreign);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(*refused->der, pki::ocsp::error_response(pki::ocsp::ResponseStatus::kUnauthorized));
  // Two certificates in one request: always the worker's (answer()).
  const std::string two_der = openssl_request(*ca_, {serial, serial}, EVP_sha1(), 16);
  auto two = pki::ocsp::parse_request(two_der);
  ASSERT_OK(two);
  EXPECT_FALSE(responder()->answer_from_memory(*two).has_value());
}

TEST_F(OcspResponderTest, ResignsAfterHalfTheValidity) {
  const long serial = static_cast<long>(testing::serial_of(issue("CN=aging")));
  const std::string der = openssl_request(*ca_, {serial});
  auto req = pki::ocsp::parse_request(der);
  ASSERT_OK(req);
  OcspAnswer first;
  ask(der, serial, &first);
  ASSERT_TRUE(first.fresh_until.has_value());
  EXPECT_EQ(*first.fresh_until, h_.clock().now() + 12h);
  h_.clock().advance(12h - 1s);
  EXPECT_TRUE(responder()->cached(*req).has_value());
  h_.clock().advance(1s);
  EXPECT_FALSE(responder()->cached(*req).has_value());
  Checked later = ask(der, serial);
  EXPECT_EQ(later.this_update, to_unix(h_.clock().now()));
}

TEST_F(OcspResponderTest, NoncesAreSignedForUnlessIgnored) {
  const long serial = static_cast<long>(testing::serial_of(issue("CN=nonce")));
  const std::string der = openssl_request(*ca_, {serial}, EVP_sha1(), 32);
  auto req = pki::ocsp::parse_request(der);
  ASSERT_OK(req);
  OcspAnswer a;
  EXPECT_EQ(ask(der, serial, &a).nonce, 1);
  EXPECT_FALSE(a.fresh_until.has_value());  // not for caches
  EXPECT_FALSE(responder()->cached(*req).has_value());

  ASSERT_OK(h_.set([](ServerConfig& c) { c.ocsp_nonce = false; }));
  OcspAnswer plain;
  Checked c = ask(der, serial, &plain);
  EXPECT_EQ(c.verify, 1);
  EXPECT_EQ(c.nonce, -1);  // the request's nonce is not in the response
  auto cached = responder()->cached(*req);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->der, plain.der);
}

TEST_F(OcspResponderTest, IssuedCertificatesNameTheResponder) {
  const pki::Certificate with = issue("CN=with-aia");
  pki::Ptr<AUTHORITY_INFO_ACCESS> aia(static_cast<AUTHORITY_INFO_ACCESS*>(
      X509_get_ext_d2i(with.x509(), NID_info_access, nullptr, nullptr)));
  ASSERT_TRUE(aia);
  ASSERT_EQ(sk_ACCESS_DESCRIPTION_num(aia.get()), 1);
  const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), 0);
  EXPECT_EQ(OBJ_obj2nid(ad->method), NID_ad_OCSP);
  ASSERT_EQ(ad->location->type, GEN_URI);
  EXPECT_EQ(pki::string_bytes(ad->location->d.uniformResourceIdentifier), kUrl);

  ASSERT_OK(h_.set([](ServerConfig& c) { c.ocsp = false; }));
  EXPECT_EQ(h_.server().ocsp_responder(), nullptr);
  const pki::Certificate without = issue("CN=without-aia");
  EXPECT_EQ(X509_get_ext_by_NID(without.x509(), NID_info_access, -1), -1);
}

// `ocsp responder-key`: a delegated responder with a certificate the CA issued it
// (OCSPSigning, nocheck), carried in each response, and renewed by the timer with a third
// of its 30 days left.
TEST_F(OcspResponderTest, ADelegatedResponderSignsAndIsRenewed) {
  const long serial = static_cast<long>(testing::serial_of(issue("CN=delegated")));
  h_.server().shutdown();
  ASSERT_OK(h_.set([](ServerConfig& c) { c.ocsp_responder_key = "ocsp"; }));
  ASSERT_OK(h_.server().enable({}));
  ASSERT_TRUE(responder()->certificate().has_value());
  const pki::Certificate first = *responder()->certificate();
  EXPECT_TRUE(first.signed_by(*ca_));
  EXPECT_EQ(first.not_after() - first.not_before(), std::chrono::days(30));
  const int eku = X509_get_extended_key_usage(first.x509());
  EXPECT_TRUE(eku & XKU_OCSP_SIGN);
  EXPECT_GE(X509_get_ext_by_NID(first.x509(), NID_id_pkix_OCSP_noCheck, -1), 0);
  EXPECT_TRUE(h_.keys().get("ocsp").has_value());

  const std::string der = openssl_request(*ca_, {serial}, EVP_sha1(), 16);
  Checked c = ask(der, serial);
  EXPECT_EQ(c.verify, 1);
  EXPECT_EQ(c.cert_status, V_OCSP_CERTSTATUS_GOOD);
  // The key cannot change under a running server.
  EXPECT_CODE(h_.set([](ServerConfig& c) { c.ocsp_responder_key = "other"; }),
              Code::kPermissionDenied);

  h_.clock().advance(std::chrono::days(19));
  h_.server().tick();
  EXPECT_EQ(*responder()->certificate(), first);  // eleven days left: kept
  h_.clock().advance(std::chrono::days(1));
  h_.server().tick();
  const pki::Certificate second = *responder()->certificate();
  EXPECT_NE(second, first);
  EXPECT_EQ(second.not_before(), h_.clock().now());
  Checked renewed = ask(der, serial);
  EXPECT_EQ(renewed.verify, 1);

  // A restart keeps the renewed certificate.
  h_.server().shutdown();
  ASSERT_OK(h_.server().enable({}));
  EXPECT_EQ(*responder()->certificate(), second);
}

// A request in flight keeps what it answers from: `shutdown` meanwhile frees nothing under it.
TEST_F(OcspResponderTest, AHeldResponderOutlivesShutdown) {
  const long serial = static_cast<long>(testing::serial_of(issue("CN=held")));
  const std::string der = openssl_request(*ca_, {serial});
  auto req = pki::ocsp::parse_request(der);
  ASSERT_OK(req);
  std::shared_ptr<OcspResponder> held = responder();
  h_.server().shutdown();
  EXPECT_EQ(h_.server().ocsp_responder(), nullptr);
  OcspAnswer a = held->answer(*req);
  Checked c = openssl_check(*a.der, *ca_, serial, der, to_unix(h_.clock().now()));
  EXPECT_EQ(c.cert_status, V_OCSP_CERTSTATUS_GOOD);
}

TEST(OcspConfigTest, AnRaHasNoResponder) {
  ServerHarness h;
  EXPECT_CODE(h.set([](ServerConfig& c) {
    c.mode = ServerMode::kRa;
    c.ocsp = true;
  }),
              Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::ca
