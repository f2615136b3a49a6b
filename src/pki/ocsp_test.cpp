// The OCSP codec against OpenSSL's: requests OpenSSL builds are read, responses written
// here are read and verified by OpenSSL's OCSP_basic_verify, with the statuses, times,
// reasons and nonces the responder put in.

#include "pki/ocsp.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/issuer.h"
#include "pki/name.h"
#include "pki/ocsp_testing.h"
#include "pki/softhsm_testing.h"
#include "pki/test_support.h"
#include "pki/token.h"

namespace scepter::pki::ocsp {
namespace {

using testing::Checked;
using testing::openssl_check;
using testing::openssl_request;

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

  // The bytes outlive the views parse_request() returns into them.
  const std::string sha256_der = openssl_request(ca_, {7}, EVP_sha256());
  auto sha256 = parse_request(sha256_der);
  ASSERT_OK(sha256);
  EXPECT_EQ(sha256->ids[0].hash, Hash::kSha256);
  EXPECT_TRUE(sha256->nonce_extension.empty());
  EXPECT_TRUE(match.matches(sha256->ids[0]));

  const Certificate other = test::make_test_ca(key_, "other");
  const std::string foreign_der = openssl_request(other, {2});
  auto foreign = parse_request(foreign_der);
  ASSERT_OK(foreign);
  EXPECT_FALSE(match.matches(foreign->ids[0]));
  // MD5 CertIDs name nobody this responder serves.
  const std::string md5_der = openssl_request(ca_, {2}, EVP_md5());
  auto md5 = parse_request(md5_der);
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

// A signer with a key in memory copies one prepared signing context for each response:
// several threads signing at once with one signer each get a response that verifies,
// with their own nonce.
TEST_F(OcspTest, OneSignerSignsOnManyThreadsAtOnce) {
  const Key& rsa = test::rsa_key_2048();
  const Certificate ca = test::make_test_ca(rsa, "rsa");
  auto signer = ResponseSigner::create(ca, rsa, Hash::kSha256, false);
  ASSERT_OK(signer);
  EXPECT_TRUE(signer->signs_in_process());
  constexpr int kThreads = 4;
  constexpr int kEach = 8;
  std::vector<std::string> requests;
  for (int t = 0; t < kThreads; ++t)
    requests.push_back(openssl_request(ca, {10 + t}, EVP_sha1(), 16));
  std::vector<std::vector<std::string>> responses(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto req = parse_request(requests[t]);
      if (!req.has_value()) return;
      const SingleStatus one[] = {
          {.cert_id = req->ids[0].whole, .status = CertStatus::kGood, .this_update = now_}};
      for (int i = 0; i < kEach; ++i) {
        auto r = signer->sign(one, now_, req->nonce_extension);
        if (r.has_value()) responses[t].push_back(*r);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(responses[t].size(), static_cast<std::size_t>(kEach)) << "thread " << t;
    for (const std::string& response : responses[t]) {
      Checked c = openssl_check(response, ca, 10 + t, requests[t]);
      EXPECT_EQ(c.verify, 1);
      EXPECT_EQ(c.nonce, 1);
      EXPECT_EQ(c.cert_status, V_OCSP_CERTSTATUS_GOOD);
    }
  }
}

// A key on a token signs through the token for each response (nothing prepared is
// shared), and says so: the responder then leaves its signatures to a worker.
TEST_F(OcspTest, ATokenKeySignsToo) {
  if (!test::softhsm_installed()) GTEST_SKIP() << "softhsm2 is not installed";
  test::SoftHsm hsm;
  ASSERT_EQ(hsm.init_token("ocsp-token"), "");
  auto token = Token::open(test::SoftHsm::spec("ocsp-token"));
  ASSERT_OK(token);
  auto key = (*token)->generate_rsa("ca", 2048);
  ASSERT_OK(key);
  const Certificate ca = test::make_test_ca(*key, "token");
  auto signer = ResponseSigner::create(ca, *key, Hash::kSha256, false);
  ASSERT_OK(signer);
  EXPECT_FALSE(signer->signs_in_process());
  const std::string der = openssl_request(ca, {5}, EVP_sha1(), 16);
  auto req = parse_request(der);
  ASSERT_OK(req);
  const SingleStatus one[] = {
      {.cert_id = req->ids[0].whole, .status = CertStatus::kGood, .this_update = now_}};
  for (int i = 0; i < 2; ++i) {
    auto response = signer->sign(one, now_, req->nonce_extension);
    ASSERT_OK(response);
    Checked c = openssl_check(*response, ca, 5, der);
    EXPECT_EQ(c.verify, 1);
    EXPECT_EQ(c.nonce, 1);
  }
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
