// What we emit, checked by a third party: the `openssl` command-line tool.

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/io.h"
#include "scep/cert_rep.h"
#include "scep/client.h"
#include "scep/request.h"
#include "scep/test_fixtures.h"

namespace scepter::scep {
namespace {

using testing::run;
using testing::shared_pki;
using testing::TempFile;

class OpensslCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run("openssl version") != 0) GTEST_SKIP() << "openssl CLI not installed";
  }

  DecodedRequest request(CipherAlg cipher, DigestAlg digest, std::string* wire = nullptr) {
    const testing::Pki& p = shared_pki();
    PkiRequestParams rq;
    rq.payload = testing::csr_der(p.csr.get());
    rq.signer_cert = p.client_signer.get();
    rq.signer_key = p.client_key.get();
    rq.recipient_cert = p.ca_cert.get();
    rq.cipher = cipher;
    rq.digest = digest;
    rq.transaction_id = *transaction_id_for(p.csr.get());
    auto msg = encode_pki_request(rq);
    EXPECT_OK(msg);
    if (wire) *wire = *msg;
    auto req = decode_pki_message(*msg, p.ca_key.get(), p.ca_cert.get());
    EXPECT_TRUE(req.has_value());
    return std::move(*req);
  }

  CertRepParams reply(const DecodedRequest& req, PkiStatus status) {
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
};

// The text after "signerInfos:" in `openssl cms -cmsout -print`.
std::string signer_infos(const std::string& der_path) {
  std::string out;
  EXPECT_EQ(run("openssl cms -cmsout -print -inform DER -in " + der_path, &out), 0) << out;
  size_t at = out.find("signerInfos:");
  return at == std::string::npos ? std::string() : out.substr(at);
}

TEST_F(OpensslCli, SuccessCertRepVerifiesDecryptsAndUsesRsaEncryption) {
  const testing::Pki& p = shared_pki();
  for (DigestAlg digest : {DigestAlg::kSha1, DigestAlg::kSha256, DigestAlg::kSha512}) {
    DecodedRequest req = request(CipherAlg::kAes256Cbc, digest);
    pki::Ptr<X509> issued = testing::issue(req.csr->x509_req(), p.ca_cert.get(), p.ca_key.get(), 9);
    CertRepParams rp = reply(req, PkiStatus::kSuccess);
    rp.certificates = {pki::to_der(i2d_X509, issued.get()), pki::to_der(i2d_X509, p.ca_cert.get())};
    auto rep = encode_cert_rep(rp);
    ASSERT_OK(rep);

    TempFile rep_file(*rep), env_file, inner_file;
    TempFile key_file(testing::pem_key(p.client_key.get()));
    TempFile cert_file(testing::pem_cert(p.client_signer.get()));
    std::string out;
    ASSERT_EQ(run("openssl asn1parse -inform DER -in " + rep_file.path(), &out), 0) << out;
    ASSERT_EQ(run("openssl cms -verify -noverify -binary -inform DER -in " + rep_file.path() +
                      " -out " + env_file.path(),
                  &out),
              0)
        << out;
    EXPECT_NE(out.find("Verification successful"), std::string::npos) << out;

    // The signerInfo's signatureAlgorithm is rsaEncryption, not sha*WithRSAEncryption.
    std::string si = signer_infos(rep_file.path());
    size_t sig = si.find("signatureAlgorithm:");
    ASSERT_NE(sig, std::string::npos) << si;
    size_t alg = si.find("algorithm:", sig + 19);
    ASSERT_NE(alg, std::string::npos) << si;
    EXPECT_EQ(si.substr(alg, si.find('\n', alg) - alg),
              "algorithm: rsaEncryption (1.2.840.113549.1.1.1)");
    EXPECT_EQ(si.find("WithRSAEncryption"), std::string::npos) << si;
    // SCEP attributes are there (the CLI prints them by OID).
    for (const char* oid :
         {"2.16.840.1.113733.1.9.2", "2.16.840.1.113733.1.9.3", "2.16.840.1.113733.1.9.5",
          "2.16.840.1.113733.1.9.6", "2.16.840.1.113733.1.9.7"}) {
      EXPECT_NE(si.find(oid), std::string::npos) << oid;
    }

    // The envelope opens with the requester's key and holds a PKCS#7 with both certs.
    ASSERT_EQ(
        run("openssl cms -decrypt -binary -inform DER -in " + env_file.path() + " -inkey " +
                key_file.path() + " -recip " + cert_file.path() + " -out " + inner_file.path(),
            &out),
        0)
        << out;
    ASSERT_EQ(run("openssl pkcs7 -inform DER -print_certs -noout -in " + inner_file.path(), &out),
              0)
        << out;
    EXPECT_NE(out.find("subject=O = Scepter Test, CN = router1.example.com"), std::string::npos)
        << out;
    EXPECT_NE(out.find("subject=O = Scepter Test, CN = Test CA"), std::string::npos) << out;
  }
}

TEST_F(OpensslCli, FailureCertRepVerifiesAndCarriesFailInfo) {
  DecodedRequest req = request(CipherAlg::kDes3Cbc, DigestAlg::kSha256);
  CertRepParams rp = reply(req, PkiStatus::kFailure);
  rp.fail_info = FailInfo::kBadRequest;
  rp.fail_info_text = "challenge password wrong";
  auto rep = encode_cert_rep(rp);
  ASSERT_OK(rep);
  TempFile rep_file(*rep);
  std::string out;
  ASSERT_EQ(run("openssl cms -verify -noverify -binary -inform DER -in " + rep_file.path() +
                    " -out /dev/null",
                &out),
            0)
      << out;
  std::string si = signer_infos(rep_file.path());
  EXPECT_NE(si.find("2.16.840.1.113733.1.9.4"), std::string::npos) << si;
  EXPECT_NE(si.find("1.3.6.1.5.5.7.24.1"), std::string::npos) << si;
  EXPECT_NE(si.find("challenge password wrong"), std::string::npos) << si;
}

TEST_F(OpensslCli, RequestOpensWithOpenssl) {
  const testing::Pki& p = shared_pki();
  std::string wire;
  request(CipherAlg::kAes128Cbc, DigestAlg::kSha256, &wire);
  TempFile msg_file(wire), env_file, csr_file;
  TempFile key_file(testing::pem_key(p.ca_key.get()));
  TempFile cert_file(testing::pem_cert(p.ca_cert.get()));
  std::string out;
  ASSERT_EQ(run("openssl cms -verify -noverify -binary -inform DER -in " + msg_file.path() +
                    " -out " + env_file.path(),
                &out),
            0)
      << out;
  ASSERT_EQ(run("openssl cms -decrypt -binary -inform DER -in " + env_file.path() + " -inkey " +
                    key_file.path() + " -recip " + cert_file.path() + " -out " + csr_file.path(),
                &out),
            0)
      << out;
  ASSERT_EQ(run("openssl req -inform DER -noout -verify -subject -in " + csr_file.path(), &out), 0)
      << out;
  EXPECT_NE(out.find("router1.example.com"), std::string::npos) << out;
}

TEST_F(OpensslCli, TransactionIdIsMd5OfSpki) {
  const testing::Pki& p = shared_pki();
  TempFile key_file(testing::pem_key(p.client_key.get()));
  std::string out;
  ASSERT_EQ(
      run("openssl pkey -in " + key_file.path() + " -pubout -outform DER | openssl md5 -r", &out),
      0)
      << out;
  std::string hex = out.substr(0, 32);
  for (char& c : hex) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(*transaction_id_for(p.client_key.get()), hex);
}

TEST_F(OpensslCli, DegenerateCertsReadByPkcs7) {
  const testing::Pki& p = shared_pki();
  auto der = encode_degenerate_certs({p.ca_cert.get(), p.other_cert.get()});
  ASSERT_OK(der);
  TempFile file(*der);
  std::string out;
  ASSERT_EQ(run("openssl pkcs7 -inform DER -print -noout -in " + file.path(), &out), 0) << out;
  // No content at all (not an empty OCTET STRING), no signers.
  EXPECT_NE(out.find("d.data: <ABSENT>"), std::string::npos) << out;
  EXPECT_NE(out.find("signer_info:\n      <EMPTY>"), std::string::npos) << out;
  ASSERT_EQ(run("openssl pkcs7 -inform DER -print_certs -noout -in " + file.path(), &out), 0);
  EXPECT_LT(out.find("CN = Test CA"), out.find("CN = Other"));
}

}  // namespace
}  // namespace scepter::scep
