// Client -> server -> client: every cipher and digest a SCEP client may pick, and
// every reply status.

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/io.h"
#include "scep/cert_rep.h"
#include "scep/client.h"
#include "scep/cms_util.h"
#include "scep/payload.h"
#include "scep/request.h"
#include "scep/test_fixtures.h"

namespace scepter::scep {
namespace {

using testing::csr_der;
using testing::shared_pki;

const std::string kNonce = "0123456789abcdef";

PkiRequestParams request_params(MessageType type, std::string payload) {
  const testing::Pki& p = shared_pki();
  PkiRequestParams rq;
  rq.type = type;
  rq.payload = std::move(payload);
  rq.signer_cert = p.client_signer.get();
  rq.signer_key = p.client_key.get();
  rq.recipient_cert = p.ca_cert.get();
  rq.transaction_id = *transaction_id_for(p.csr.get());
  rq.sender_nonce = kNonce;
  return rq;
}

// Reply parameters for a decoded request, signed by the test CA.
CertRepParams reply_to(const DecodedRequest& req, PkiStatus status) {
  CertRepParams rp;
  rp.signer_cert = shared_pki().ca_cert.get();
  rp.signer_key = shared_pki().ca_key.get();
  rp.digest = req.digest;
  rp.transaction_id = req.transaction_id;
  rp.recipient_nonce = req.sender_nonce;
  rp.status = status;
  rp.recipient = req.signer;
  rp.cipher = req.cipher;
  return rp;
}

DecodedRequest decode_ok(const std::string& msg) {
  const testing::Pki& p = shared_pki();
  DecodeResult r = decode_pki_message(msg, p.ca_key.get(), p.ca_cert.get());
  EXPECT_TRUE(r.has_value()) << r.error().status.to_string();
  if (!r) return {};
  return std::move(*r);
}

class RoundTrip : public ::testing::TestWithParam<std::tuple<CipherAlg, DigestAlg>> {};

TEST_P(RoundTrip, PkcsReqSuccess) {
  auto [cipher, digest] = GetParam();
  if (cipher == CipherAlg::kDesCbc && !des_available()) {
    GTEST_SKIP() << "OpenSSL legacy provider not installed: DES-CBC unavailable";
  }
  const testing::Pki& p = shared_pki();
  PkiRequestParams rq = request_params(MessageType::kPkcsReq, csr_der(p.csr.get()));
  rq.cipher = cipher;
  rq.digest = digest;
  auto msg = encode_pki_request(rq);
  ASSERT_OK(msg);

  DecodedRequest req = decode_ok(*msg);
  ASSERT_TRUE(req.signer);
  EXPECT_EQ(req.type, MessageType::kPkcsReq);
  EXPECT_EQ(req.transaction_id, rq.transaction_id);
  EXPECT_EQ(req.sender_nonce, kNonce);
  EXPECT_EQ(req.digest, digest);
  EXPECT_EQ(req.cipher, cipher);
  EXPECT_EQ(req.signer.der, pki::to_der(i2d_X509, p.client_signer.get()));
  EXPECT_EQ(EVP_PKEY_eq(req.signer.key.get(), X509_get0_pubkey(p.client_signer.get())), 1);
  ASSERT_TRUE(req.signing_time.has_value());  // OpenSSL always adds one
  EXPECT_LT(std::abs(*req.signing_time - time(nullptr)), 600);
  ASSERT_TRUE(req.csr);
  EXPECT_EQ(req.payload, csr_der(p.csr.get()));
  EXPECT_EQ(csr_der(req.csr->x509_req()), csr_der(p.csr.get()));

  pki::Ptr<X509> issued = testing::issue(req.csr->x509_req(), p.ca_cert.get(), p.ca_key.get(), 2);
  CertRepParams rp = reply_to(req, PkiStatus::kSuccess);
  rp.certificates = {pki::to_der(i2d_X509, issued.get()), pki::to_der(i2d_X509, p.ca_cert.get())};
  auto der = encode_cert_rep(rp);
  ASSERT_OK(der);

  auto rep = decode_cert_rep(*der, p.client_key.get(), p.ca_cert.get());
  ASSERT_OK(rep);
  EXPECT_EQ(rep->status, PkiStatus::kSuccess);
  EXPECT_FALSE(rep->fail_info.has_value());
  EXPECT_EQ(rep->transaction_id, rq.transaction_id);
  EXPECT_EQ(rep->recipient_nonce, kNonce);
  EXPECT_EQ(rep->sender_nonce.size(), kNonceSize);
  EXPECT_NE(rep->sender_nonce, kNonce);
  EXPECT_EQ(rep->digest, digest);
  EXPECT_EQ(rep->cipher, cipher);
  ASSERT_EQ(rep->certificates.size(), 2u);
  EXPECT_EQ(X509_cmp(rep->certificates[0].get(), issued.get()), 0);
  EXPECT_EQ(X509_cmp(rep->certificates[1].get(), p.ca_cert.get()), 0);
}

std::string param_name(const ::testing::TestParamInfo<RoundTrip::ParamType>& info) {
  std::string s = std::string(cipher_name(std::get<0>(info.param))) + "_" +
                  std::string(digest_name(std::get<1>(info.param)));
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    AllAlgorithms, RoundTrip,
    ::testing::Combine(::testing::Values(CipherAlg::kAes128Cbc, CipherAlg::kAes192Cbc,
                                         CipherAlg::kAes256Cbc, CipherAlg::kDes3Cbc,
                                         CipherAlg::kDesCbc),
                       ::testing::Values(DigestAlg::kMd5, DigestAlg::kSha1, DigestAlg::kSha256,
                                         DigestAlg::kSha384, DigestAlg::kSha512)),
    param_name);

TEST(RoundTripTest, DesIsAvailableHere) {
  // Not a requirement of the code, but the cipher matrix above is only complete when
  // this holds; a skipped DES row shows up here as a failure to look at.
  EXPECT_TRUE(des_available()) << "OpenSSL legacy provider (legacy.so) not found";
}

TEST(RoundTripTest, PendingAndFailure) {
  const testing::Pki& p = shared_pki();
  DecodedRequest req =
      decode_ok(*encode_pki_request(request_params(MessageType::kPkcsReq, csr_der(p.csr.get()))));

  auto pending = encode_cert_rep(reply_to(req, PkiStatus::kPending));
  ASSERT_OK(pending);
  auto rep = decode_cert_rep(*pending, p.client_key.get(), p.ca_cert.get());
  ASSERT_OK(rep);
  EXPECT_EQ(rep->status, PkiStatus::kPending);
  EXPECT_FALSE(rep->fail_info.has_value());
  EXPECT_TRUE(rep->certificates.empty());
  EXPECT_EQ(rep->recipient_nonce, kNonce);

  CertRepParams rp = reply_to(req, PkiStatus::kFailure);
  rp.fail_info = FailInfo::kBadCertId;
  rp.fail_info_text = "request expired — ask again";
  auto failure = encode_cert_rep(rp);
  ASSERT_OK(failure);
  rep = decode_cert_rep(*failure, p.client_key.get(), p.ca_cert.get());
  ASSERT_OK(rep);
  EXPECT_EQ(rep->status, PkiStatus::kFailure);
  EXPECT_EQ(rep->fail_info, FailInfo::kBadCertId);
  EXPECT_EQ(rep->fail_info_text, "request expired — ask again");
  EXPECT_EQ(rep->transaction_id, req.transaction_id);

  // A FAILURE can be answered without a requester certificate (e.g. to a request whose
  // signer was missing), and without text.
  rp.recipient = PeerCert();
  rp.fail_info_text.clear();
  rp.fail_info = FailInfo::kBadMessageCheck;
  rep = decode_cert_rep(*encode_cert_rep(rp), nullptr, p.ca_cert.get());
  ASSERT_OK(rep);
  EXPECT_EQ(rep->fail_info, FailInfo::kBadMessageCheck);
  EXPECT_TRUE(rep->fail_info_text.empty());
}

TEST(RoundTripTest, CertRepFromAnotherSignerIsRejected) {
  const testing::Pki& p = shared_pki();
  DecodedRequest req =
      decode_ok(*encode_pki_request(request_params(MessageType::kPkcsReq, csr_der(p.csr.get()))));
  auto der = encode_cert_rep(reply_to(req, PkiStatus::kPending));
  ASSERT_OK(der);
  EXPECT_CODE(decode_cert_rep(*der, p.client_key.get(), p.other_cert.get()),
              Code::kInvalidArgument);
}

TEST(RoundTripTest, SuccessNeedsContentAndRecipient) {
  const testing::Pki& p = shared_pki();
  DecodedRequest req =
      decode_ok(*encode_pki_request(request_params(MessageType::kPkcsReq, csr_der(p.csr.get()))));
  CertRepParams rp = reply_to(req, PkiStatus::kSuccess);
  EXPECT_CODE(encode_cert_rep(rp), Code::kInvalidArgument);  // no certificate
  rp.certificates = {pki::to_der(i2d_X509, p.ca_cert.get())};
  rp.recipient = PeerCert();
  EXPECT_CODE(encode_cert_rep(rp), Code::kInvalidArgument);  // nobody to encrypt to
  rp.recipient = req.signer;
  rp.crl_der = "not a CRL";
  EXPECT_CODE(encode_cert_rep(rp), Code::kInvalidArgument);
}

TEST(RoundTripTest, CertPollCarriesIssuerAndSubject) {
  const testing::Pki& p = shared_pki();
  auto payload = encode_issuer_and_subject(X509_get_subject_name(p.ca_cert.get()),
                                           X509_REQ_get_subject_name(p.csr.get()));
  ASSERT_OK(payload);
  DecodedRequest req =
      decode_ok(*encode_pki_request(request_params(MessageType::kCertPoll, *payload)));
  EXPECT_EQ(req.type, MessageType::kCertPoll);
  ASSERT_TRUE(req.issuer && req.subject);
  EXPECT_EQ(X509_NAME_cmp(req.issuer.get(), X509_get_subject_name(p.ca_cert.get())), 0);
  EXPECT_EQ(X509_NAME_cmp(req.subject.get(), X509_REQ_get_subject_name(p.csr.get())), 0);
  EXPECT_FALSE(req.csr);
  EXPECT_FALSE(req.serial);
}

TEST(RoundTripTest, GetCertAndGetCrlCarryIssuerAndSerial) {
  const testing::Pki& p = shared_pki();
  pki::Ptr<ASN1_STRING> serial(ASN1_INTEGER_new());
  ASN1_INTEGER_set(serial.get(), 0x1234);
  auto payload = encode_issuer_and_serial(X509_get_subject_name(p.ca_cert.get()), serial.get());
  ASSERT_OK(payload);
  for (MessageType type : {MessageType::kGetCert, MessageType::kGetCrl}) {
    DecodedRequest req = decode_ok(*encode_pki_request(request_params(type, *payload)));
    EXPECT_EQ(req.type, type);
    ASSERT_TRUE(req.issuer && req.serial);
    EXPECT_EQ(X509_NAME_cmp(req.issuer.get(), X509_get_subject_name(p.ca_cert.get())), 0);
    EXPECT_EQ(ASN1_INTEGER_get(req.serial.get()), 0x1234);
    EXPECT_FALSE(req.subject);
  }
}

TEST(RoundTripTest, GetCrlReplyCarriesTheCrl) {
  const testing::Pki& p = shared_pki();
  pki::Ptr<ASN1_STRING> serial(ASN1_INTEGER_new());
  ASN1_INTEGER_set(serial.get(), 2);
  auto payload = encode_issuer_and_serial(X509_get_subject_name(p.ca_cert.get()), serial.get());
  DecodedRequest req =
      decode_ok(*encode_pki_request(request_params(MessageType::kGetCrl, *payload)));

  const std::string crl = testing::crl_der(p.ca_cert.get(), p.ca_key.get());
  CertRepParams rp = reply_to(req, PkiStatus::kSuccess);
  rp.crl_der = crl;
  auto rep = decode_cert_rep(*encode_cert_rep(rp), p.client_key.get(), p.ca_cert.get());
  ASSERT_OK(rep);
  EXPECT_EQ(rep->status, PkiStatus::kSuccess);
  EXPECT_TRUE(rep->certificates.empty());
  ASSERT_TRUE(rep->crl);
  std::string got(static_cast<size_t>(i2d_X509_CRL(rep->crl.get(), nullptr)), '\0');
  auto* w = reinterpret_cast<unsigned char*>(got.data());
  i2d_X509_CRL(rep->crl.get(), &w);
  EXPECT_EQ(got, crl);
}

TEST(RoundTripTest, RenewalSignedWithTheCurrentCertificate) {
  const testing::Pki& p = shared_pki();
  pki::Ptr<X509> current = testing::issue(p.csr.get(), p.ca_cert.get(), p.ca_key.get(), 7);
  pki::Ptr<EVP_PKEY> new_key = testing::rsa_key(2048);
  pki::Ptr<X509_REQ> new_csr = testing::make_csr(new_key.get(), "router1.example.com", "");
  for (MessageType type : {MessageType::kRenewalReq, MessageType::kPkcsReq}) {
    PkiRequestParams rq = request_params(type, csr_der(new_csr.get()));
    rq.signer_cert = current.get();  // signed by the existing certificate and key
    rq.transaction_id = *transaction_id_for(new_csr.get());
    DecodedRequest req = decode_ok(*encode_pki_request(rq));
    EXPECT_EQ(req.type, type);
    ASSERT_TRUE(req.signer);
    EXPECT_EQ(req.signer.der, pki::to_der(i2d_X509, current.get()));
    ASSERT_TRUE(req.csr);
    EXPECT_EQ(EVP_PKEY_eq(X509_REQ_get0_pubkey(req.csr->x509_req()), new_key.get()), 1);
  }
}

TEST(RoundTripTest, DegenerateCertsAndNextCaCert) {
  const testing::Pki& p = shared_pki();
  auto der = encode_degenerate_certs({p.ca_cert.get(), p.other_cert.get()});
  ASSERT_OK(der);
  auto certs = decode_certs_only(*der);
  ASSERT_OK(certs);
  ASSERT_EQ(certs->certificates.size(), 2u);
  EXPECT_EQ(X509_cmp(certs->certificates[0].get(), p.ca_cert.get()), 0);
  EXPECT_EQ(X509_cmp(certs->certificates[1].get(), p.other_cert.get()), 0);
  EXPECT_CODE(encode_degenerate_certs({}), Code::kInvalidArgument);
}

TEST(RoundTripTest, ConcurrentCallsShareKeysAndCertificates) {
  const testing::Pki& p = shared_pki();
  const std::string csr = csr_der(p.csr.get());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        PkiRequestParams rq = request_params(MessageType::kPkcsReq, csr);
        rq.cipher = (t % 2) ? CipherAlg::kAes256Cbc : CipherAlg::kDes3Cbc;
        auto msg = encode_pki_request(rq);
        if (!msg) {
          ++failures;
          continue;
        }
        DecodeResult req = decode_pki_message(*msg, p.ca_key.get(), p.ca_cert.get());
        if (!req) {
          ++failures;
          continue;
        }
        CertRepParams rp = reply_to(*req, PkiStatus::kSuccess);
        rp.certificates = {pki::to_der(i2d_X509, p.ca_cert.get())};
        auto der = encode_cert_rep(rp);
        auto rep = der ? decode_cert_rep(*der, p.client_key.get(), p.ca_cert.get())
                       : Result<CertRep>(fail(der.error()));
        if (!rep || rep->certificates.size() != 1) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(RoundTripTest, SigningTimeComesFromTheCaller) {
  const testing::Pki& p = shared_pki();
  DecodedRequest req =
      decode_ok(*encode_pki_request(request_params(MessageType::kPkcsReq, csr_der(p.csr.get()))));
  CertRepParams rp = reply_to(req, PkiStatus::kPending);
  rp.signing_time = 2000000000;  // 2033-05-18, a `clock set` far from the system clock
  auto der = encode_cert_rep(rp);
  ASSERT_OK(der);
  auto cms = detail::parse_cms(*der);
  ASSERT_OK(cms);
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms->get()), 0);
  EXPECT_EQ(detail::signing_time(si), std::optional<std::time_t>(2000000000));
  EXPECT_EQ(CMS_signed_get_attr_count(si), 8);  // no second signingTime from OpenSSL
}

TEST(RoundTripTest, TransactionIdIsUpperHexMd5OfSpki) {
  const testing::Pki& p = shared_pki();
  auto tid = transaction_id_for(p.client_key.get());
  ASSERT_OK(tid);
  EXPECT_EQ(tid->size(), 32u);
  EXPECT_EQ(tid->find_first_not_of("0123456789ABCDEF"), std::string::npos);
  EXPECT_EQ(*tid, *transaction_id_for(p.csr.get()));
  EXPECT_NE(*tid, *transaction_id_for(p.ca_key.get()));
}

TEST(RoundTripTest, PayloadDecodersRejectGarbage) {
  EXPECT_CODE(decode_issuer_and_subject("\x30\x03\x02\x01\x01"), Code::kInvalidArgument);
  EXPECT_CODE(decode_issuer_and_serial(""), Code::kInvalidArgument);
  EXPECT_CODE(decode_pkcs10("\x30\x00"), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::scep
