// The OCSP codec against OpenSSL's: requests OpenSSL builds are read, responses written
// here are read and verified by OpenSSL's OCSP_basic_verify, with the statuses, times,
// reasons and nonces the responder put in.

#include "pki/ocsp.h"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>

#include "common/testing.h"
#include "pki/issuer.h"
#include "pki/name.h"
#include "pki/ptr.h"
#include "pki/test_support.h"

namespace scepter::pki {
template <>
struct Free<OCSP_REQUEST> {
  void operator()(OCSP_REQUEST* p) const { OCSP_REQUEST_free(p); }
};
template <>
struct Free<OCSP_RESPONSE> {
  void operator()(OCSP_RESPONSE* p) const { OCSP_RESPONSE_free(p); }
};
template <>
struct Free<OCSP_BASICRESP> {
  void operator()(OCSP_BASICRESP* p) const { OCSP_BASICRESP_free(p); }
};
template <>
struct Free<OCSP_CERTID> {
  void operator()(OCSP_CERTID* p) const { OCSP_CERTID_free(p); }
};
}  // namespace scepter::pki

namespace scepter::pki::ocsp {
namespace {

// An OCSPRequest for `serials` of `issuer`, as OpenSSL (and so `openssl ocsp`) builds it.
std::string openssl_request(const Certificate& issuer, const std::vector<long>& serials,
                            const EVP_MD* md = EVP_sha1(), int nonce_len = 0) {
  Ptr<OCSP_REQUEST> req(OCSP_REQUEST_new());
  for (long serial : serials) {
    Ptr<ASN1_INTEGER> n(ASN1_INTEGER_new());
    ASN1_INTEGER_set(n.get(), serial);
    OCSP_CERTID* id = OCSP_cert_id_new(md, X509_get_subject_name(issuer.x509()),
                                       X509_get0_pubkey_bitstr(issuer.x509()), n.get());
    OCSP_request_add0_id(req.get(), id);
  }
  if (nonce_len > 0) OCSP_request_add1_nonce(req.get(), nullptr, nonce_len);
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_REQUEST(req.get(), &der);
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

struct Checked {
  int response_status = -1;
  int verify = 0;  // OCSP_basic_verify
  int cert_status = -1;
  int reason = -1;
  long long revoked_at = -1;
  long long this_update = -1;
  long long next_update = -1;
  int nonce = -9;  // OCSP_check_nonce
};

long long unix_of(const ASN1_GENERALIZEDTIME* t) {
  if (t == nullptr) return -1;
  std::tm tm{};
  ASN1_TIME_to_tm(t, &tm);
  return timegm(&tm);
}

// Reads `response` with OpenSSL, trusting `ca`, for the status of `serial`.
Checked openssl_check(const std::string& response, const Certificate& ca, long serial,
                      const std::string& request_der) {
  Checked c;
  const auto* p = reinterpret_cast<const unsigned char*>(response.data());
  Ptr<OCSP_RESPONSE> resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response.size())));
  if (!resp) return c;
  c.response_status = OCSP_response_status(resp.get());
  Ptr<OCSP_BASICRESP> basic(OCSP_response_get1_basic(resp.get()));
  if (!basic) return c;
  Ptr<X509_STORE> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.x509());
  STACK_OF(X509)* certs = sk_X509_new_null();
  sk_X509_push(certs, ca.x509());
  c.verify = OCSP_basic_verify(basic.get(), certs, store.get(), 0);
  sk_X509_free(certs);
  const auto* q = reinterpret_cast<const unsigned char*>(request_der.data());
  Ptr<OCSP_REQUEST> req(d2i_OCSP_REQUEST(nullptr, &q, static_cast<long>(request_der.size())));
  c.nonce = OCSP_check_nonce(req.get(), basic.get());
  Ptr<ASN1_INTEGER> n(ASN1_INTEGER_new());
  ASN1_INTEGER_set(n.get(), serial);
  Ptr<OCSP_CERTID> id(OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(ca.x509()),
                                       X509_get0_pubkey_bitstr(ca.x509()), n.get()));
  ASN1_GENERALIZEDTIME* rev = nullptr;
  ASN1_GENERALIZEDTIME* thisupd = nullptr;
  ASN1_GENERALIZEDTIME* nextupd = nullptr;
  if (OCSP_resp_find_status(basic.get(), id.get(), &c.cert_status, &c.reason, &rev, &thisupd,
                            &nextupd) == 1) {
    c.revoked_at = unix_of(rev);
    c.this_update = unix_of(thisupd);
    c.next_update = unix_of(nextupd);
  }
  return c;
}

class OcspTest : public ::testing::Test {
 protected:
  const Key& key_ = test::ec_key_256();
  const Certificate ca_ = test::make_test_ca(key_);
  const TimePoint now_ = from_unix(test::kNow + 60);
};

TEST_F(OcspTest, ReadsWhatOpensslSends) {
  const std::string der = openssl_request(ca_, {2, 0x1234}, EVP_sha1(), 16);
  auto req = parse_request(der);
  ASSERT_OK(req);
  ASSERT_EQ(req->ids.size(), 2u);
  EXPECT_EQ(req->ids[0].hash, Hash::kSha1);
  EXPECT_EQ(req->ids[0].serial, std::string_view("\x02", 1));
  EXPECT_EQ(req->ids[1].serial, std::string_view("\x12\x34", 2));
  EXPECT_FALSE(req->nonce_extension.empty());
  const IssuerMatch match(ca_);
  EXPECT_TRUE(match.matches(req->ids[0]));
  EXPECT_TRUE(match.matches(req->ids[1]));

  auto sha256 = parse_request(openssl_request(ca_, {7}, EVP_sha256()));
  ASSERT_OK(sha256);
  EXPECT_EQ(sha256->ids[0].hash, Hash::kSha256);
  EXPECT_TRUE(sha256->nonce_extension.empty());
  EXPECT_TRUE(match.matches(sha256->ids[0]));

  const Certificate other = test::make_test_ca(key_, "other");
  auto foreign = parse_request(openssl_request(other, {2}));
  ASSERT_OK(foreign);
  EXPECT_FALSE(match.matches(foreign->ids[0]));
  // MD5 CertIDs name nobody this responder serves.
  auto md5 = parse_request(openssl_request(ca_, {2}, EVP_md5()));
  ASSERT_OK(md5);
  EXPECT_FALSE(md5->ids[0].hash.has_value());
  EXPECT_FALSE(match.matches(md5->ids[0]));
}

TEST_F(OcspTest, RefusesWhatIsNotARequest) {
  const std::string good = openssl_request(ca_, {2});
  EXPECT_CODE(parse_request(""), Code::kInvalidArgument);
  EXPECT_CODE(parse_request("garbage"), Code::kInvalidArgument);
  EXPECT_CODE(parse_request(good + "x"), Code::kInvalidArgument);
  EXPECT_CODE(parse_request(good.substr(0, good.size() - 1)), Code::kInvalidArgument);
  EXPECT_CODE(parse_request(openssl_request(ca_, {})), Code::kInvalidArgument);
  std::vector<long> many(kMaxCertIds + 1, 5);
  EXPECT_CODE(parse_request(openssl_request(ca_, many)), Code::kInvalidArgument);
  many.pop_back();
  EXPECT_OK(parse_request(openssl_request(ca_, many)));
  EXPECT_CODE(parse_request(openssl_request(ca_, {2}, EVP_sha1(), 33)), Code::kInvalidArgument);
  EXPECT_OK(parse_request(openssl_request(ca_, {2}, EVP_sha1(), 32)));
}

TEST_F(OcspTest, ResponsesOpensslVerifies) {
  auto signer = ResponseSigner::create(ca_, key_, Hash::kSha256, false);
  ASSERT_OK(signer);
  const std::string der = openssl_request(ca_, {2, 3, 4}, EVP_sha1(), 16);
  auto req = parse_request(der);
  ASSERT_OK(req);
  const TimePoint next = now_ + std::chrono::hours(24);
  const TimePoint revoked = from_unix(test::kNow + 30);
  const SingleStatus statuses[] = {
      {.cert_id = req->ids[0].whole,
       .status = CertStatus::kGood,
       .this_update = now_,
       .next_update = next},
      {.cert_id = req->ids[1].whole,
       .status = CertStatus::kRevoked,
       .revoked_at = revoked,
       .reason = 1,
       .this_update = now_,
       .next_update = next},
      {.cert_id = req->ids[2].whole, .status = CertStatus::kUnknown, .this_update = now_},
  };
  auto response = signer->sign(statuses, now_, req->nonce_extension);
  ASSERT_OK(response);

  Checked good = openssl_check(*response, ca_, 2, der);
  EXPECT_EQ(good.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
  EXPECT_EQ(good.verify, 1);
  EXPECT_EQ(good.nonce, 1);
  EXPECT_EQ(good.cert_status, V_OCSP_CERTSTATUS_GOOD);
  EXPECT_EQ(good.this_update, test::kNow + 60);
  EXPECT_EQ(good.next_update, test::kNow + 60 + 86400);
  Checked bad = openssl_check(*response, ca_, 3, der);
  EXPECT_EQ(bad.cert_status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(bad.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
  EXPECT_EQ(bad.revoked_at, test::kNow + 30);
  Checked unknown = openssl_check(*response, ca_, 4, der);
  EXPECT_EQ(unknown.cert_status, V_OCSP_CERTSTATUS_UNKNOWN);
  EXPECT_EQ(unknown.next_update, -1);

  // Without a nonce in the request, none in the response.
  const std::string plain = openssl_request(ca_, {2});
  auto plain_req = parse_request(plain);
  ASSERT_OK(plain_req);
  const SingleStatus one[] = {{.cert_id = plain_req->ids[0].whole,
                               .status = CertStatus::kRevoked,
                               .revoked_at = revoked,
                               .this_update = now_}};
  auto plain_resp = signer->sign(one, now_, plain_req->nonce_extension);
  ASSERT_OK(plain_resp);
  Checked c = openssl_check(*plain_resp, ca_, 2, plain);
  EXPECT_EQ(c.verify, 1);
  EXPECT_EQ(c.nonce, 2);  // neither has one
  EXPECT_EQ(c.cert_status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(c.reason, -1);  // none given
}

TEST_F(OcspTest, RsaResponsesVerifyToo) {
  const Key& rsa = test::rsa_key_2048();
  const Certificate ca = test::make_test_ca(rsa, "rsa");
  auto signer = ResponseSigner::create(ca, rsa, Hash::kSha256, false);
  ASSERT_OK(signer);
  const std::string der = openssl_request(ca, {9}, EVP_sha1(), 32);
  auto req = parse_request(der);
  ASSERT_OK(req);
  const SingleStatus one[] = {
      {.cert_id = req->ids[0].whole, .status = CertStatus::kGood, .this_update = now_}};
  auto response = signer->sign(one, now_, req->nonce_extension);
  ASSERT_OK(response);
  Checked c = openssl_check(*response, ca, 9, der);
  EXPECT_EQ(c.verify, 1);
  EXPECT_EQ(c.nonce, 1);
  EXPECT_EQ(c.cert_status, V_OCSP_CERTSTATUS_GOOD);
}

TEST_F(OcspTest, ErrorResponsesAreBareStatuses) {
  for (ResponseStatus s : {ResponseStatus::kMalformedRequest, ResponseStatus::kInternalError,
                           ResponseStatus::kTryLater, ResponseStatus::kUnauthorized}) {
    const std::string der = error_response(s);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    Ptr<OCSP_RESPONSE> resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(resp);
    EXPECT_EQ(OCSP_response_status(resp.get()), static_cast<int>(s));
  }
}

}  // namespace
}  // namespace scepter::pki::ocsp
