// ScepService::handle() against a real ca::Device with an enabled certificate server:
// requests are built the way clients build them (scep/client.h) and every answer is
// read back as a client reads it.

#include "scep/service.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "scep/next_ca.h"
#include "scep/service_fixture.h"

namespace scepter::scep {
namespace {

using testing::client_key;
using testing::csr_der;
using testing::ios_get_message;
using testing::kLabel;
using testing::kNonce;
using testing::make_csr;
using testing::ScepServiceTest;
using testing::serial_of;
using testing::shared_pki;

TEST_F(ScepServiceTest, GetCaCapsListsWhatTheServerDoes) {
  ScepHttpResponse r = service_->handle({"GET", "GetCACaps", "", false, ""});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain");
  for (const char* cap : {"AES\n", "DES3\n", "POSTPKIOperation\n", "Renewal\n", "SHA-1\n",
                          "SHA-256\n", "SHA-512\n", "SCEPStandard\n"}) {
    EXPECT_NE(r.payload().find(cap), std::string::npos) << cap;
  }
  EXPECT_EQ(r.payload().find("GetNextCACert"), std::string::npos);  // no rollover certificate
}

TEST_F(ScepServiceTest, GetCaCertIsTheDerCaCertificateWhateverTheMessage) {
  for (const char* message : {"", kLabel, "CAIdentifier", "router-trustpoint"}) {
    ScepHttpResponse r = service_->handle({"GET", "GetCACert", message, *message != 0, ""});
    EXPECT_EQ(r.status, 200) << message;
    EXPECT_EQ(r.content_type, "application/x-x509-ca-cert");
    EXPECT_EQ(r.payload(), testing::cert_der(ca_cert_.get())) << message;
  }
}

TEST_F(ScepServiceTest, PlainGetCrlIsTheDerCrl) {
  ScepHttpResponse r = service_->handle({"GET", "GetCRL", "", false, ""});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/pkix-crl");
  const auto* p = reinterpret_cast<const unsigned char*>(r.payload().data());
  pki::Ptr<X509_CRL> crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(r.payload().size())));
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca_cert_.get())), 1);
}

TEST_F(ScepServiceTest, UnknownOperationsAndGetNextCaCert) {
  EXPECT_EQ(service_->handle({"GET", "", "", false, ""}).status, 400);
  EXPECT_EQ(service_->handle({"GET", "Bogus", "", false, ""}).status, 400);
  EXPECT_EQ(service_->handle({"GET", "GetNextCACert", "", false, ""}).status, 404);
}

// Rollover stage two: GetCACaps offers GetNextCACert, and GetNextCACert gives the
// shadow CA certificate in a SignedData of the current CA key (what a client checks with
// the CA it already trusts); once cancelled, neither.
TEST_F(ScepServiceTest, GetNextCaCertDuringARollover) {
  ASSERT_OK(server_->start_rollover());
  auto shadow = server_->rollover_certificate();
  ASSERT_TRUE(shadow.has_value());
  ScepHttpResponse caps = service_->handle({"GET", "GetCACaps", kLabel, true, ""});
  EXPECT_NE(caps.payload().find("GetNextCACert\n"), std::string::npos) << caps.payload();
  ScepHttpResponse r = service_->handle({"GET", "GetNextCACert", kLabel, true, ""});
  ASSERT_EQ(r.status, 200) << r.payload();
  EXPECT_EQ(r.content_type, "application/x-x509-next-ca-cert");
  auto current = pki::Certificate::from_der(testing::cert_der(ca_cert_.get()));
  ASSERT_OK(current);
  auto next = decode_next_ca_cert(r.payload(), {*current});
  ASSERT_OK(next);
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0], *shadow);
  // Not something the shadow could have signed for itself.
  EXPECT_FALSE(decode_next_ca_cert(r.payload(), {*shadow}).has_value());

  ASSERT_OK(server_->cancel_rollover());
  caps = service_->handle({"GET", "GetCACaps", kLabel, true, ""});
  EXPECT_EQ(caps.payload().find("GetNextCACert"), std::string::npos);
  EXPECT_EQ(service_->handle({"GET", "GetNextCACert", kLabel, true, ""}).status, 404);
}

// One CA signature per rollover certificate: GetNextCACert is unauthenticated, so a
// second request (even a minute later, when a new signature would carry a new
// signingTime) gets the answer already made; a new rollover certificate gets a new one.
TEST_F(ScepServiceTest, GetNextCaCertIsSignedOncePerRolloverCertificate) {
  ASSERT_OK(server_->start_rollover());
  ScepHttpResponse first = service_->handle({"GET", "GetNextCACert", kLabel, true, ""});
  ASSERT_EQ(first.status, 200) << first.payload();
  clock_.advance(Seconds(60));
  ScepHttpResponse again = service_->handle({"GET", "GetNextCACert", "", false, ""});
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.payload(), first.payload());

  ASSERT_OK(server_->cancel_rollover());
  ASSERT_OK(server_->start_rollover());
  auto shadow = server_->rollover_certificate();
  ASSERT_TRUE(shadow.has_value());
  ScepHttpResponse renewed = service_->handle({"GET", "GetNextCACert", kLabel, true, ""});
  ASSERT_EQ(renewed.status, 200);
  EXPECT_NE(renewed.payload(), first.payload());
  auto current = pki::Certificate::from_der(testing::cert_der(ca_cert_.get()));
  ASSERT_OK(current);
  auto next = decode_next_ca_cert(renewed.payload(), {*current});
  ASSERT_OK(next);
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0], *shadow);
}

TEST_F(ScepServiceTest, NothingIsServedWhileTheServerIsShutDown) {
  server_->shutdown();
  EXPECT_EQ(service_->handle({"GET", "GetCACert", "", false, ""}).status, 503);
  EXPECT_EQ(service_->handle({"GET", "GetCRL", "", false, ""}).status, 503);
  auto msg = encode_pki_request(pkcs_req(client_key(0), "r1"));
  ASSERT_OK(msg);
  ScepHttpResponse r = post(*msg);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, "text/plain");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  EXPECT_EQ(r.headers[0].second, "30");
}

TEST_F(ScepServiceTest, AutoGrantOverPost) {
  set_grant(ca::GrantMode::kAuto);
  PkiRequestParams rq = pkcs_req(client_key(0), "router1.example.com");
  CertRep rep = exchange(rq);
  auto cert = issued(rep);
  ASSERT_TRUE(cert);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert.get()), client_key(0)), 1);
  EXPECT_EQ(rep.cipher, CipherAlg::kAes128Cbc);  // the reply follows the request
  auto reqs = requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].state, store::RequestState::kGranted);
  EXPECT_EQ(reqs[0].transaction_id, rq.transaction_id);
  ASSERT_TRUE(reqs[0].serial.has_value());
  EXPECT_EQ(static_cast<long>(*reqs[0].serial), serial_of(cert.get()));
}

TEST_F(ScepServiceTest, AutoGrantOverGetAsEncodedByTheClientLibrary) {
  set_grant(ca::GrantMode::kAuto);
  PkiRequestParams rq = pkcs_req(client_key(0), "r1");
  rq.cipher = CipherAlg::kDes3Cbc;
  rq.digest = DigestAlg::kSha1;
  auto msg = encode_pki_request(rq);
  ASSERT_OK(msg);
  CertRep rep = rep_of(get(encode_get_message(*msg)), rq.signer_key);
  EXPECT_TRUE(issued(rep));
  EXPECT_EQ(rep.cipher, CipherAlg::kDes3Cbc);
  EXPECT_EQ(rep.digest, DigestAlg::kSha256);  // never below SHA-256
}

TEST_F(ScepServiceTest, AutoGrantOverGetWithIosLineBreaks) {
  set_grant(ca::GrantMode::kAuto);
  PkiRequestParams rq = pkcs_req(client_key(0), "r1");
  auto msg = encode_pki_request(rq);
  ASSERT_OK(msg);
  const std::string value = ios_get_message(*msg);
  ASSERT_NE(value.find("%0A"), std::string::npos);
  CertRep rep = rep_of(get(value), rq.signer_key);
  EXPECT_TRUE(issued(rep));
}

TEST_F(ScepServiceTest, ManualGrantPendsUntilTheOperatorGrants) {
  PkiRequestParams rq = pkcs_req(client_key(0), "r1", "not-a-password");
  EXPECT_EQ(exchange(rq).status, PkiStatus::kPending);
  auto reqs = requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].state, store::RequestState::kPending);

  PkiRequestParams poll = cert_poll(client_key(0), "r1");
  EXPECT_EQ(exchange(poll).status, PkiStatus::kPending);
  ASSERT_OK(server_->grant(reqs[0].id));
  CertRep rep = exchange(poll);
  auto cert = issued(rep);
  ASSERT_TRUE(cert);
  // The PKCSReq re-sent (as IOS and micromdm do instead of polling) gets the same one.
  CertRep again = exchange(rq);
  auto same = issued(again);
  ASSERT_TRUE(same);
  EXPECT_EQ(X509_cmp(cert.get(), same.get()), 0);
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(ScepServiceTest, RejectedRequestIsAFailure) {
  EXPECT_EQ(exchange(pkcs_req(client_key(0), "r1")).status, PkiStatus::kPending);
  ASSERT_OK(server_->reject(requests()[0].id));
  expect_failure(exchange(cert_poll(client_key(0), "r1")), FailInfo::kBadRequest);
  expect_failure(exchange(pkcs_req(client_key(0), "r1")), FailInfo::kBadRequest);
}

TEST_F(ScepServiceTest, GrantNoneRejectsAtOnceAndStoresNothing) {
  set_grant(ca::GrantMode::kNone);
  expect_failure(exchange(pkcs_req(client_key(0), "r1")), FailInfo::kBadRequest);
  EXPECT_TRUE(requests().empty());  // docs/policy.md: refused requests are not stored
}

TEST_F(ScepServiceTest, OneTimePasswordGrantsOnceInManualMode) {
  auto otp = server_->generate_password(60);
  ASSERT_OK(otp);
  CertRep rep = exchange(pkcs_req(client_key(0), "r1", otp->password));
  EXPECT_TRUE(issued(rep));
  // Replayed with another key: not a password any more, so it waits for the operator.
  EXPECT_EQ(exchange(pkcs_req(client_key(1), "r2", otp->password)).status, PkiStatus::kPending);
  auto reqs = requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].state, store::RequestState::kPending);  // newest first
  EXPECT_EQ(reqs[1].state, store::RequestState::kGranted);
}

TEST_F(ScepServiceTest, ExpiredOneTimePasswordPends) {
  auto otp = server_->generate_password(1);
  ASSERT_OK(otp);
  clock_.set_offset_seconds(clock_.offset_seconds() + 120);
  EXPECT_EQ(exchange(pkcs_req(client_key(0), "r1", otp->password)).status, PkiStatus::kPending);
}

TEST_F(ScepServiceTest, BadSignatureIsBadMessageCheck) {
  set_grant(ca::GrantMode::kAuto);
  PkiRequestParams rq = pkcs_req(client_key(0), "r1");
  auto msg = encode_pki_request(rq);
  ASSERT_OK(msg);
  std::string forged = *msg;
  forged[forged.size() - 20] ^= 0x01;  // inside the signerInfo's RSA signature
  CertRep rep = rep_of(post(forged), rq.signer_key);
  expect_failure(rep, FailInfo::kBadMessageCheck);
  EXPECT_EQ(rep.transaction_id, rq.transaction_id);
  EXPECT_TRUE(requests().empty());
}

// Refused on the recipientInfo alone: no decryption, so no garbage that might parse one
// time in 256 and get another answer.
TEST_F(ScepServiceTest, EnvelopeForAnotherRecipientIsBadMessageCheck) {
  set_grant(ca::GrantMode::kAuto);
  PkiRequestParams rq = pkcs_req(client_key(0), "r1");
  rq.recipient_cert = shared_pki().other_cert.get();
  for (int i = 0; i < 8; ++i) {
    const std::uint64_t before = envelope_decryptions();
    CertRep rep = exchange(rq);
    expect_failure(rep, FailInfo::kBadMessageCheck);
    EXPECT_EQ(rep.fail_info_text, kEnvelopeFailureText);
    EXPECT_EQ(envelope_decryptions(), before);
  }
  EXPECT_TRUE(requests().empty());
}

TEST_F(ScepServiceTest, CertPollForAnUnknownTransactionIsBadCertId) {
  expect_failure(exchange(cert_poll(client_key(0), "r1")), FailInfo::kBadCertId);
}

TEST_F(ScepServiceTest, GetCertForIssuedAndUnknownSerials) {
  set_grant(ca::GrantMode::kAuto);
  CertRep rep = exchange(pkcs_req(client_key(0), "r1"));
  auto cert = issued(rep);
  ASSERT_TRUE(cert);
  CertRep got = exchange(by_serial(MessageType::kGetCert, client_key(1), serial_of(cert.get())));
  auto same = issued(got);
  ASSERT_TRUE(same);
  EXPECT_EQ(X509_cmp(cert.get(), same.get()), 0);
  expect_failure(exchange(by_serial(MessageType::kGetCert, client_key(1), 0x7777)),
                 FailInfo::kBadCertId);
}

TEST_F(ScepServiceTest, GetCrlMessageCarriesTheCrl) {
  CertRep rep = exchange(by_serial(MessageType::kGetCrl, client_key(0), 1));
  EXPECT_EQ(rep.status, PkiStatus::kSuccess) << rep.fail_info_text;
  ASSERT_TRUE(rep.crl);
  EXPECT_EQ(X509_CRL_verify(rep.crl.get(), X509_get0_pubkey(ca_cert_.get())), 1);
}

TEST_F(ScepServiceTest, TruncatedAndGarbageMessagesAreHttp400) {
  auto msg = encode_pki_request(pkcs_req(client_key(0), "r1"));
  ASSERT_OK(msg);
  std::vector<std::string> bad = {"",
                                  "garbage",
                                  std::string("\x30\x80\x00\x00", 4),
                                  msg->substr(0, 10),
                                  msg->substr(0, msg->size() / 2),
                                  msg->substr(0, msg->size() - 1)};
  for (const std::string& body : bad) {
    ScepHttpResponse r = post(body);
    EXPECT_EQ(r.status, 400) << body.size();
    EXPECT_EQ(r.content_type, "text/plain");
  }
  EXPECT_EQ(get("!!!not base64!!!").status, 400);
  EXPECT_EQ(get(encode_get_message(msg->substr(0, msg->size() / 2))).status, 400);
  EXPECT_EQ(service_->handle({"GET", "PKIOperation", "", false, ""}).status, 400);
  EXPECT_TRUE(requests().empty());
}

TEST_F(ScepServiceTest, RenewalSignedByAnotherCaIsBadRequest) {
  set_grant(ca::GrantMode::kAuto);
  const testing::Pki& other = shared_pki();
  // A certificate for client_key(0) from a CA that is not ours.
  auto old_csr = make_csr(client_key(0), "r1");
  auto foreign = testing::issue(old_csr.get(), other.ca_cert.get(), other.ca_key.get(), 2);
  PkiRequestParams rq =
      renewal(MessageType::kRenewalReq, client_key(1), foreign.get(), client_key(0));
  expect_failure(exchange(rq), FailInfo::kBadRequest);
  EXPECT_TRUE(requests().empty());
}

TEST_F(ScepServiceTest, PkcsReqSignedByOurCertificateRenewsInManualMode) {
  auto otp = server_->generate_password(60);
  ASSERT_OK(otp);
  CertRep first = exchange(pkcs_req(client_key(0), "r1", otp->password));
  auto old_cert = issued(first);
  ASSERT_TRUE(old_cert);
  // A new key, signed with the current certificate and its key, no password.
  PkiRequestParams rq =
      renewal(MessageType::kPkcsReq, client_key(1), old_cert.get(), client_key(0));
  CertRep rep = exchange(rq);
  auto renewed = issued(rep);
  ASSERT_TRUE(renewed);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(renewed.get()), client_key(1)), 1);
  EXPECT_NE(serial_of(renewed.get()), serial_of(old_cert.get()));
  // RenewalReq (17) works the same way.
  PkiRequestParams rq3 =
      renewal(MessageType::kRenewalReq, client_key(2), renewed.get(), client_key(1));
  CertRep rep3 = exchange(rq3);
  EXPECT_TRUE(issued(rep3));
}

// During a rollover, a renewal by a certificate that lasts until the switch is certified
// under the rollover CA certificate, which comes with it in the CertRep.
TEST_F(ScepServiceTest, ARolloverCertificateComesWithTheRolloverCaCertificate) {
  // 100 days before the CA's expiry (on the server's clock; the messages' signingTime is
  // the real time, so the service takes any skew), a client's certificate ends with the
  // CA's.
  ScepServiceOptions options;
  options.max_clock_skew = Seconds(std::int64_t{10} * 365 * 24 * 3600);
  service_ = std::make_unique<ScepService>(*device_, options);
  auto ca = pki::Certificate::from_x509(pki::up_ref(ca_cert_.get()));
  ASSERT_OK(ca);
  clock_.set_now(ca->not_after() - std::chrono::days(100));
  auto otp = server_->generate_password(60);
  ASSERT_OK(otp);
  CertRep enrolled = exchange(pkcs_req(client_key(0), "r1", otp->password));
  auto old_cert = issued(enrolled);
  ASSERT_TRUE(old_cert);
  ASSERT_OK(server_->start_rollover());
  const std::optional<pki::Certificate> shadow = server_->rollover_certificate();
  ASSERT_TRUE(shadow.has_value());
  CertRep rep =
      exchange(renewal(MessageType::kPkcsReq, client_key(1), old_cert.get(), client_key(0)));
  ASSERT_EQ(rep.status, PkiStatus::kSuccess) << rep.fail_info_text;
  ASSERT_EQ(rep.certificates.size(), 2u);
  EXPECT_EQ(X509_verify(rep.certificates[0].get(), X509_get0_pubkey(shadow->x509())), 1);
  EXPECT_EQ(X509_cmp(rep.certificates[1].get(), shadow->x509()), 0);
  // Not a rollover: the certificate alone.
  auto otp2 = server_->generate_password(60);
  ASSERT_OK(otp2);
  CertRep first = exchange(pkcs_req(client_key(2), "r2", otp2->password));
  EXPECT_EQ(first.certificates.size(), 1u);
}

TEST_F(ScepServiceTest, RevokedSignerIsNoRenewal) {
  auto otp = server_->generate_password(60);
  ASSERT_OK(otp);
  CertRep first = exchange(pkcs_req(client_key(0), "r1", otp->password));
  auto old_cert = issued(first);
  ASSERT_TRUE(old_cert);
  ASSERT_OK(server_->revoke(static_cast<store::Serial>(serial_of(old_cert.get()))));

  // A revoked certificate of ours vouches for nothing: refused, PKCSReq and RenewalReq.
  PkiRequestParams rq =
      renewal(MessageType::kPkcsReq, client_key(1), old_cert.get(), client_key(0));
  expect_failure(exchange(rq), FailInfo::kBadRequest);
  PkiRequestParams rq2 =
      renewal(MessageType::kRenewalReq, client_key(2), old_cert.get(), client_key(0));
  expect_failure(exchange(rq2), FailInfo::kBadRequest);
}

TEST_F(ScepServiceTest, SameTransactionIdTwiceIsOneRequestAndOneCertificate) {
  set_grant(ca::GrantMode::kAuto);
  PkiRequestParams rq = pkcs_req(client_key(0), "r1");
  CertRep a = exchange(rq);
  auto first = issued(a);
  rq.sender_nonce = "fedcba9876543210";
  auto msg = encode_pki_request(rq);
  ASSERT_OK(msg);
  auto again = decode_cert_rep(get(encode_get_message(*msg)).body, rq.signer_key, ca_cert_.get());
  ASSERT_OK(again);
  EXPECT_EQ(again->recipient_nonce, rq.sender_nonce);
  auto second = issued(*again);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(X509_cmp(first.get(), second.get()), 0);
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(ScepServiceTest, TransactionIdOfAnotherKeyIsRefused) {
  set_grant(ca::GrantMode::kAuto);
  PkiRequestParams first = pkcs_req(client_key(0), "r1");
  CertRep a = exchange(first);
  ASSERT_TRUE(issued(a));
  // Another key under the same transactionID must not get the first key's certificate.
  PkiRequestParams other = pkcs_req(client_key(1), "r2");
  other.transaction_id = first.transaction_id;
  expect_failure(exchange(other), FailInfo::kBadRequest);
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(ScepServiceTest, SingleDesNeedsAllowDes) {
  if (!des_available()) GTEST_SKIP() << "OpenSSL legacy provider not installed";
  set_grant(ca::GrantMode::kAuto);
  PkiRequestParams rq = pkcs_req(client_key(0), "r1");
  rq.cipher = CipherAlg::kDesCbc;
  expect_failure(exchange(rq), FailInfo::kBadAlg);
  EXPECT_TRUE(requests().empty());
  allow_des(true);
  CertRep rep = exchange(rq);
  EXPECT_TRUE(issued(rep));
  EXPECT_EQ(rep.cipher, CipherAlg::kDesCbc);
}

TEST_F(ScepServiceTest, SigningTimeTwoDaysOffIsBadTime) {
  set_grant(ca::GrantMode::kAuto);
  auto msg = encode_pki_request(pkcs_req(client_key(0), "r1"));  // signed now
  ASSERT_OK(msg);
  for (std::int64_t days : {2, -2}) {
    clock_.set_offset_seconds(days * 86400);
    CertRep rep = rep_of(post(*msg), client_key(0));
    expect_failure(rep, FailInfo::kBadTime);
  }
  EXPECT_TRUE(requests().empty());
  clock_.set_offset_seconds(3600);  // an hour off is within the tolerance
  EXPECT_EQ(rep_of(post(*msg), client_key(0)).status, PkiStatus::kSuccess);
}

}  // namespace
}  // namespace scepter::scep
