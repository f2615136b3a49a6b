// ScepService against hostile or unlucky PKIOperations: size caps, one private-key
// operation whatever the number of certificate servers, one answer for every envelope
// failure, SHA-256 replies, and the server's own trouble answered 503 + Retry-After.

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/cms.h>

#include "common/log.h"
#include "scep/cms_util.h"
#include "scep/service_fixture.h"

namespace scepter::scep {
namespace {

using testing::client_key;
using testing::csr_der;
using testing::kNonce;
using testing::make_csr;
using testing::shared_pki;
using ServiceHardening = testing::ScepServiceTest;

const pki::Key& second_ca_key() {
  static const pki::Key key = *pki::Key::generate_rsa(2048);
  return key;
}

// The Retry-After header of `r`, or "" when absent.
std::string retry_after(const ScepHttpResponse& r) {
  for (const auto& [name, value] : r.headers) {
    if (name == "Retry-After") return value;
  }
  return {};
}

// A message from a throw-away signer of `key` around `envelope`.
struct Signed {
  std::string der;
  pki::Ptr<X509> signer;
};
Signed signed_by(EVP_PKEY* key, std::string_view envelope, const EVP_MD* md = EVP_sha256(),
                 std::string type = "19") {
  Signed s;
  s.signer = std::move(*make_self_signed_signer(key, testing::name("SCEP SIGNER").get()));
  testing::SignedMessage m;
  m.signer_cert = s.signer.get();
  m.signer_key = key;
  m.message_type = std::move(type);
  m.transaction_id = *transaction_id_for(key);
  m.sender_nonce = kNonce;
  m.digest = md;
  s.der = testing::signed_message(envelope, m);
  return s;
}

TEST_F(ServiceHardening, PostBodyOver64KiBIs413BeforeParsing) {
  set_grant(ca::GrantMode::kAuto);
  auto msg = encode_pki_request(pkcs_req(client_key(0), "r1"));
  ASSERT_OK(msg);
  ASSERT_LT(msg->size(), kMaxPkiMessageSize);
  // A valid message with trailing bytes: parsed, it would be a 400 ("trailing bytes").
  std::string at_cap = *msg + std::string(kMaxPkiMessageSize - msg->size(), '\0');
  ASSERT_EQ(at_cap.size(), kMaxPkiMessageSize);
  EXPECT_EQ(post(at_cap).status, 400);
  ScepHttpResponse r = post(at_cap + '\0');
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_TRUE(requests().empty());
}

TEST_F(ServiceHardening, GetMessageOver64KiBIs413) {
  auto msg = encode_pki_request(pkcs_req(client_key(0), "r1"));
  ASSERT_OK(msg);
  const std::string big = *msg + std::string(kMaxPkiMessageSize + 1 - msg->size(), '\0');
  ScepHttpResponse r = get(encode_get_message(big));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.content_type, "text/plain");
  // Far too long to be one once decoded: refused before decoding.
  EXPECT_EQ(get(std::string(4 * kMaxPkiMessageSize + 1, 'A')).status, 413);
  // Within the cap but not a message: an ordinary 400.
  EXPECT_EQ(get(encode_get_message(big.substr(0, kMaxPkiMessageSize))).status, 400);
}

TEST_F(ServiceHardening, RepliesAreSignedWithSha256OrStronger) {
  set_grant(ca::GrantMode::kAuto);
  struct Case {
    DigestAlg request;
    DigestAlg reply;
  };
  for (const Case& c :
       {Case{DigestAlg::kMd5, DigestAlg::kSha256}, Case{DigestAlg::kSha1, DigestAlg::kSha256},
        Case{DigestAlg::kSha224, DigestAlg::kSha256}, Case{DigestAlg::kSha256, DigestAlg::kSha256},
        Case{DigestAlg::kSha384, DigestAlg::kSha384},
        Case{DigestAlg::kSha512, DigestAlg::kSha512}}) {
    SCOPED_TRACE(std::string(digest_name(c.request)));
    PkiRequestParams rq = pkcs_req(client_key(0), "r1");
    rq.digest = c.request;
    CertRep rep = exchange(rq);  // signature checked against the CA certificate
    EXPECT_EQ(rep.status, PkiStatus::kSuccess) << rep.fail_info_text;
    EXPECT_EQ(rep.digest, c.reply);
    // A FAILURE is signed the same way (here: the signature of the request is bad).
    auto msg = encode_pki_request(rq);
    ASSERT_OK(msg);
    std::string forged = *msg;
    forged[forged.size() - 20] ^= 0x01;
    CertRep failed = rep_of(post(forged), rq.signer_key);
    EXPECT_EQ(failed.status, PkiStatus::kFailure);
    EXPECT_EQ(failed.digest, c.reply);
  }
}

// A third party reads the SHA-256 reply to an MD5 and a SHA-1 request the way
// OpenSSL-based clients (sscep, certmonger, strongSwan's openssl plugin) do.
TEST_F(ServiceHardening, Sha256ReplyToWeakRequestVerifiesWithOpenssl) {
  if (testing::run("openssl version") != 0) GTEST_SKIP() << "openssl CLI not installed";
  set_grant(ca::GrantMode::kAuto);
  for (DigestAlg digest : {DigestAlg::kMd5, DigestAlg::kSha1}) {
    PkiRequestParams rq = pkcs_req(client_key(0), "r1");
    rq.digest = digest;
    ScepHttpResponse r = send(rq);
    ASSERT_EQ(r.status, 200);
    testing::TempFile rep(r.body), ca(testing::pem_cert(ca_cert_.get())), env;
    std::string out;
    EXPECT_EQ(
        testing::run("openssl cms -verify -binary -inform DER -in " + rep.path() + " -CAfile " +
                         ca.path() + " -certfile " + ca.path() + " -noverify -out " + env.path(),
                     &out),
        0)
        << out;
    EXPECT_FALSE(env.read().empty());
    ASSERT_EQ(testing::run("openssl cms -cmsout -print -inform DER -in " + rep.path(), &out), 0);
    const std::string signer = out.substr(out.find("signerInfos:"));
    EXPECT_NE(signer.find("algorithm: sha256"), std::string::npos) << signer;
  }
}

TEST_F(ServiceHardening, TwoServersEachAnswerTheMessagesNamingThem) {
  set_grant(ca::GrantMode::kAuto);
  auto s2 = device_->create_server("ca2");
  ASSERT_OK(s2);
  ca::KeyEntry key{"ca2", second_ca_key(), ca::KeyUsage::kGeneralPurpose, true, clock_.now()};
  ASSERT_OK(device_->keys().put(key));
  ca::ServerConfig c = (*s2)->config();
  c.archive_password = "archive-password";
  c.issuer_name = "CN=Second CA, O=Scepter Test";
  c.grant = ca::GrantMode::kAuto;
  ASSERT_OK((*s2)->set_config(c));
  ASSERT_OK((*s2)->enable({}));
  auto id2 = (*s2)->signing_identity();
  ASSERT_OK(id2);
  X509* ca2 = id2->certificate.x509();

  // To the second server: decrypted once, with its key; signed by it; recorded there.
  PkiRequestParams rq = pkcs_req(client_key(1), "r2");
  rq.recipient_cert = ca2;
  auto msg = encode_pki_request(rq);
  ASSERT_OK(msg);
  std::uint64_t before = envelope_decryptions();
  ScepHttpResponse r = post(*msg);
  EXPECT_EQ(envelope_decryptions() - before, 1u);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_CODE(decode_cert_rep(r.body, client_key(1), ca_cert_.get()), Code::kInvalidArgument);
  auto rep = decode_cert_rep(r.body, client_key(1), ca2);
  ASSERT_OK(rep);
  EXPECT_EQ(rep->status, PkiStatus::kSuccess) << rep->fail_info_text;
  ASSERT_EQ(rep->certificates.size(), 1u);
  EXPECT_EQ(X509_verify(rep->certificates[0].get(), X509_get0_pubkey(ca2)), 1);
  EXPECT_TRUE(requests().empty());
  auto reqs2 = (*s2)->requests();
  ASSERT_OK(reqs2);
  EXPECT_EQ(reqs2->size(), 1u);

  // To the first: the same.
  before = envelope_decryptions();
  CertRep first = exchange(pkcs_req(client_key(0), "r1"));
  EXPECT_EQ(envelope_decryptions() - before, 1u);
  EXPECT_TRUE(issued(first));
  EXPECT_EQ(requests().size(), 1u);

  // To neither: no decryption; FAILURE signed by the first server, or by the one a
  // POST's message= names.
  PkiRequestParams stray = pkcs_req(client_key(2), "r3");
  stray.recipient_cert = shared_pki().other_cert.get();
  auto stray_msg = encode_pki_request(stray);
  ASSERT_OK(stray_msg);
  before = envelope_decryptions();
  CertRep refused = rep_of(post(*stray_msg), client_key(2));
  expect_failure(refused, FailInfo::kBadMessageCheck);
  EXPECT_EQ(refused.fail_info_text, kEnvelopeFailureText);
  ScepHttpResponse named = service_->handle({"POST", "PKIOperation", "ca2", true, *stray_msg});
  auto by_ca2 = decode_cert_rep(named.body, client_key(2), ca2);
  ASSERT_OK(by_ca2);
  EXPECT_EQ(by_ca2->fail_info, FailInfo::kBadMessageCheck);
  EXPECT_EQ(envelope_decryptions(), before);
}

TEST_F(ServiceHardening, SubjectKeyIdentifierRecipientIsServed) {
  if (X509_get0_subject_key_id(ca_cert_.get()) == nullptr) {
    GTEST_SKIP() << "the CA certificate has no subjectKeyIdentifier";
  }
  set_grant(ca::GrantMode::kAuto);
  auto csr = make_csr(client_key(0), "r1");
  Signed s = signed_by(client_key(0),
                       testing::envelope_to(csr_der(csr.get()), {ca_cert_.get()}, CMS_USE_KEYID));
  CertRep rep = rep_of(post(s.der), client_key(0));
  EXPECT_TRUE(issued(rep));
}

// A PKCS#10 whose signature does not verify is refused by the CA with badMessageCheck:
// from the outside it must look like any other envelope failure.
TEST_F(ServiceHardening, CsrWithBadSignatureLooksLikeAnUndecryptableEnvelope) {
  set_grant(ca::GrantMode::kAuto);
  auto csr = make_csr(client_key(0), "r1");
  std::string der = csr_der(csr.get());
  der[der.size() - 3] ^= 0x01;  // inside the CSR's signature
  CertRep bad = exchange(params(MessageType::kPkcsReq, der, client_key(0)));
  expect_failure(bad, FailInfo::kBadMessageCheck);
  EXPECT_EQ(bad.fail_info_text, kEnvelopeFailureText);

  CertRep garbage = exchange(params(MessageType::kPkcsReq, "not a CSR", client_key(0)));
  expect_failure(garbage, FailInfo::kBadMessageCheck);
  EXPECT_EQ(garbage.fail_info_text, kEnvelopeFailureText);

  // An envelope whose key was wrapped for another key, under our name.
  pki::Ptr<X509> fake =
      testing::impostor(ca_cert_.get(), shared_pki().other_key.get(), shared_pki().other_key.get());
  for (int i = 0; i < 10; ++i) {
    Signed s = signed_by(client_key(0), testing::envelope_to(der, {fake.get()}));
    CertRep undecryptable = rep_of(post(s.der), client_key(0));
    expect_failure(undecryptable, FailInfo::kBadMessageCheck);
    EXPECT_EQ(undecryptable.fail_info_text, kEnvelopeFailureText);
  }
}

TEST_F(ServiceHardening, PolicyRefusalsKeepTheirText) {
  set_grant(ca::GrantMode::kNone);
  CertRep rep = exchange(pkcs_req(client_key(0), "r1"));
  expect_failure(rep, FailInfo::kBadRequest);
  EXPECT_NE(rep.fail_info_text, kEnvelopeFailureText);
}

TEST_F(ServiceHardening, SignerKeyOutOfBoundsIsBadAlg) {
  pki::Ptr<EVP_PKEY> huge = testing::fake_rsa_public_key(8192, "65537");
  ASSERT_TRUE(huge);
  pki::Ptr<X509> signer = *make_self_signed_signer(client_key(0), testing::name("c").get());
  pki::Ptr<X509> carried = testing::impostor(signer.get(), huge.get(), client_key(0));
  auto csr = make_csr(client_key(0), "r1");
  testing::SignedMessage m;
  m.signer_cert = signer.get();
  m.signer_key = client_key(0);
  m.carried_cert = carried.get();
  m.sender_nonce = kNonce;
  const std::uint64_t before = envelope_decryptions();
  ScepHttpResponse r =
      post(testing::signed_message(testing::envelope_to(csr_der(csr.get()), {ca_cert_.get()}), m));
  // The reply cannot be encrypted to such a key, but a FAILURE needs no encryption.
  auto rep = decode_cert_rep(r.body, nullptr, ca_cert_.get());
  ASSERT_OK(rep);
  expect_failure(*rep, FailInfo::kBadAlg);
  EXPECT_EQ(envelope_decryptions(), before);
}

// The certificate server goes away between reading the message and answering it (a
// `shutdown`, a database that fails): HTTP 503 with Retry-After, never a CertRep
// FAILURE, which clients take as final.
TEST_F(ServiceHardening, ServerTroubleIs503WithRetryAfter) {
  set_grant(ca::GrantMode::kAuto);
  CertRep first = exchange(pkcs_req(client_key(0), "r1"));
  auto cert = issued(first);
  ASSERT_TRUE(cert);
  // "CRYPTO_PKI: received ..." is traced after decoding, just before the CA is asked.
  // The listener runs under the log's lock: shutdown() traces only in kPkiServer,
  // which nobody listens to here.
  std::shared_ptr<ca::CertificateServer> server = server_;
  const std::uint64_t sub = log::subscribe(
      log::Category::kPkiTransactions, [server](log::Category, std::string_view line) {
        if (line.find("CRYPTO_PKI: received") != std::string_view::npos) server->shutdown();
      });
  std::vector<PkiRequestParams> requests_to_try = {
      pkcs_req(client_key(1), "r2"), cert_poll(client_key(0), "r1"),
      by_serial(MessageType::kGetCert, client_key(1), testing::serial_of(cert.get())),
      by_serial(MessageType::kGetCrl, client_key(1), 1)};
  for (const PkiRequestParams& rq : requests_to_try) {
    SCOPED_TRACE(std::string(message_type_name(rq.type)));
    ASSERT_OK(server_->enable({}));
    ScepHttpResponse r = send(rq);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.content_type, "text/plain");
    EXPECT_EQ(retry_after(r), "30");
  }
  log::unsubscribe(sub);
}

TEST_F(ServiceHardening, RetryAfterComesFromTheOptions) {
  ScepServiceOptions options;
  options.retry_after = Seconds(120);
  ScepService service(*device_, options);
  server_->shutdown();
  ScepHttpResponse r = service.handle({"GET", "GetCACert", "", false, ""});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(retry_after(r), "120");
}

TEST_F(ServiceHardening, UnknownOperationIsEchoedEscaped) {
  ScepHttpResponse r = service_->handle({"GET", "Get\x1b[2JCACert\n", "", false, ""});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "unknown operation Get\\x1B[2JCACert\\x0A\n");
}

}  // namespace
}  // namespace scepter::scep
