// GetNextCACert answers: built by encode_next_ca_cert(), checked by decode_next_ca_cert(),
// and both checked against the `openssl` command-line tool.

#include "scep/next_ca.h"

#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/cms.h>
#include <openssl/objects.h>

#include "common/testing.h"
#include "scep/cms_util.h"
#include "scep/test_fixtures.h"
#include "scep/upstream_test_support.h"

namespace scepter::scep {
namespace {

using testing::client_key;
using testing::run;
using testing::TempFile;
using upstream_testing::hierarchy;
using upstream_testing::key_of;
using upstream_testing::make_cert;

constexpr std::time_t kSigningTime = 1'767'225'600;  // 2026-01-01T00:00:00Z

// The current root (hierarchy().root, key 10), its rollover (same name, a new key), an
// RA and a router certificate it issued, and certificates it did not issue.
struct Rollover {
  const pki::Certificate& current = hierarchy().root;
  pki::Key current_key = key_of(upstream_testing::root_key());
  pki::Certificate next = make_cert("Root CA", client_key(15), nullptr, nullptr, true, nullptr, 2);
  pki::Certificate ra = make_cert("RA", upstream_testing::ra_sign_key(), &hierarchy().root,
                                  upstream_testing::root_key(), false, "digitalSignature", 7);
  pki::Key ra_key = key_of(upstream_testing::ra_sign_key());
  pki::Certificate router = make_cert("router", upstream_testing::stranger_key(), &hierarchy().root,
                                      upstream_testing::root_key(), false, "digitalSignature", 8);
  const pki::Certificate& stranger = hierarchy().stranger;
  pki::Key stranger_key = key_of(upstream_testing::stranger_key());
  // Same issuer and serial as the current root, another key.
  pki::Certificate impostor =
      make_cert("Root CA", upstream_testing::stranger_key(), nullptr, nullptr, true);
};

const Rollover& rollover() {
  static const Rollover r;
  return r;
}

NextCaTrust trust_ca() { return NextCaTrust{rollover().current}; }

std::string answer_by(const pki::Certificate& signer, const pki::Key& key,
                      const std::vector<pki::Certificate>& certs = {rollover().next}) {
  auto der = encode_next_ca_cert(certs, signer, key, kSigningTime);
  EXPECT_OK(der);
  return der.value_or("");
}

// A SignedData built by hand, for shapes encode_next_ca_cert() never makes.
struct Signer {
  X509* cert;
  EVP_PKEY* key;
};
std::string hand_signed(std::string_view content, const std::vector<Signer>& signers,
                        int econtent_nid = NID_pkcs7_data, bool detached = false) {
  const unsigned flags = CMS_PARTIAL | CMS_BINARY | (detached ? CMS_DETACHED : 0);
  pki::Ptr<CMS_ContentInfo> cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  EXPECT_TRUE(cms);
  if (econtent_nid != NID_pkcs7_data) {
    EXPECT_EQ(CMS_set1_eContentType(cms.get(), OBJ_nid2obj(econtent_nid)), 1);
  }
  for (const Signer& s : signers) {
    EXPECT_NE(CMS_add1_signer(cms.get(), s.cert, s.key, EVP_sha256(), CMS_BINARY), nullptr);
  }
  auto in = detail::read_bio(content);
  EXPECT_EQ(CMS_final(cms.get(), in->get(), nullptr, flags), 1);
  return *detail::cms_der(cms.get());
}

std::string inner_of(const std::vector<pki::Certificate>& certs) {
  std::vector<X509*> raw;
  for (const pki::Certificate& c : certs) raw.push_back(c.x509());
  return *detail::degenerate(raw, {});
}

// Refused with kInvalidArgument, and the message contains `words`.
void expect_refused(std::string_view der, const NextCaTrust& trust, std::string_view words) {
  auto certs = decode_next_ca_cert(der, trust);
  ASSERT_FALSE(certs.has_value()) << "accepted: " << certs->size() << " certificates";
  EXPECT_EQ(certs.error().code(), Code::kInvalidArgument) << certs.error().to_string();
  EXPECT_NE(certs.error().message().find(words), std::string::npos) << certs.error().message();
}

TEST(NextCaTest, RoundTrip) {
  const Rollover& r = rollover();
  auto certs = decode_next_ca_cert(answer_by(r.current, r.current_key), trust_ca());
  ASSERT_OK(certs);
  ASSERT_EQ(certs->size(), 1u);
  EXPECT_EQ(certs->front(), r.next);

  // Several certificates keep their order.
  const std::vector<pki::Certificate> bundle = {r.next, hierarchy().sub, hierarchy().ra_sign};
  certs = decode_next_ca_cert(answer_by(r.current, r.current_key, bundle), trust_ca());
  ASSERT_OK(certs);
  EXPECT_EQ(*certs, bundle);
}

TEST(NextCaTest, EncodingIsReproducibleAndCarriesSigningTime) {
  const Rollover& r = rollover();
  const std::string a = answer_by(r.current, r.current_key);
  EXPECT_EQ(a, answer_by(r.current, r.current_key));
  auto cms = detail::parse_cms(a);
  ASSERT_OK(cms);
  STACK_OF(CMS_SignerInfo)* sis = CMS_get0_SignerInfos(cms->get());
  ASSERT_EQ(sk_CMS_SignerInfo_num(sis), 1);
  EXPECT_EQ(detail::signing_time(sk_CMS_SignerInfo_value(sis, 0)), kSigningTime);
  // The signer certificate is included.
  detail::X509Stack certs(CMS_get1_certs(cms->get()));
  ASSERT_TRUE(certs);
  ASSERT_EQ(sk_X509_num(certs.get()), 1);
  EXPECT_EQ(X509_cmp(sk_X509_value(certs.get(), 0), r.current.x509()), 0);
}

TEST(NextCaTest, EncodeRefusesWhatItCannotSign) {
  const Rollover& r = rollover();
  EXPECT_CODE(encode_next_ca_cert({}, r.current, r.current_key, kSigningTime),
              Code::kInvalidArgument);
  const std::vector<pki::Certificate> nine(kMaxNextCaCertificates + 1, r.next);
  EXPECT_CODE(encode_next_ca_cert(nine, r.current, r.current_key, kSigningTime),
              Code::kInvalidArgument);
  EXPECT_CODE(encode_next_ca_cert({r.next}, r.current, r.stranger_key, kSigningTime),
              Code::kInvalidArgument);
  auto public_only = pki::Key::from_public_der(r.current_key.public_key_der());
  ASSERT_OK(public_only);
  EXPECT_CODE(encode_next_ca_cert({r.next}, r.current, *public_only, kSigningTime),
              Code::kInvalidArgument);
}

TEST(NextCaTest, RaSignerIsAcceptedOnlyWhenNamed) {
  const Rollover& r = rollover();
  const std::string der = answer_by(r.ra, r.ra_key);
  auto certs = decode_next_ca_cert(der, NextCaTrust{r.current, r.ra});
  ASSERT_OK(certs);
  EXPECT_EQ(certs->front(), r.next);
  // Issued by the CA is not enough: a router certificate must not announce a new CA.
  expect_refused(der, trust_ca(), "neither the current CA");
  expect_refused(answer_by(r.router, key_of(upstream_testing::stranger_key())),
                 NextCaTrust{r.current, r.ra}, "neither the current CA");
  // An RA the CA did not issue is no trust at all.
  expect_refused(answer_by(r.current, r.current_key), NextCaTrust{r.current, r.stranger},
                 "is not issued by the CA");
}

TEST(NextCaTest, RefusesAnotherSigner) {
  const Rollover& r = rollover();
  expect_refused(answer_by(r.stranger, r.stranger_key), trust_ca(), "signed by cn=Stranger");
  // The new CA signing its own announcement proves nothing.
  expect_refused(answer_by(r.next, key_of(client_key(15))), trust_ca(), "neither the current CA");
  // Same issuer and serial as the current CA, another key: named as the CA, fails to verify.
  expect_refused(answer_by(r.impostor, r.stranger_key), trust_ca(), "does not verify");
}

TEST(NextCaTest, TamperedBytesNeverYieldOtherCertificates) {
  const Rollover& r = rollover();
  const std::string good = answer_by(r.current, r.current_key);
  size_t refused = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto certs = decode_next_ca_cert(bad, trust_ca());
    if (certs.has_value()) {
      // Only bytes nobody relies on may change without notice (the copy of the signer
      // certificate inside the answer: the trusted copy is used instead).
      EXPECT_EQ(*certs, std::vector<pki::Certificate>{r.next}) << "byte " << i;
    } else {
      EXPECT_EQ(certs.error().code(), Code::kInvalidArgument) << "byte " << i;
      ++refused;
    }
  }
  EXPECT_GT(refused, good.size() / 3);

  // A byte of the new certificate itself.
  const std::string& next_der = r.next.der();
  const size_t at = good.find(next_der);
  ASSERT_NE(at, std::string::npos);
  std::string bad = good;
  bad[at + next_der.size() / 2] ^= 0x55;
  expect_refused(bad, trust_ca(), "does not verify");
}

TEST(NextCaTest, RefusesTheUnsignedDegenerateShape) {
  const Rollover& r = rollover();
  expect_refused(inner_of({r.next}), trust_ca(), "jscep#72");
  // Signed, but the certificates are the SignedData's own, with no content.
  expect_refused(hand_signed(inner_of({r.next}), {{r.current.x509(), r.current_key.evp()}},
                             NID_pkcs7_data, /*detached=*/true),
                 trust_ca(), "no encapsulated content");
}

TEST(NextCaTest, RefusesBadInnerBundles) {
  const Rollover& r = rollover();
  const Signer ca{r.current.x509(), r.current_key.evp()};
  expect_refused(hand_signed(inner_of({}), {ca}), trust_ca(), "holds no certificate");
  expect_refused(hand_signed("", {ca}), trust_ca(), "empty content");
  expect_refused(hand_signed("not a SignedData", {ca}), trust_ca(), "not a certs-only");
  expect_refused(hand_signed(inner_of({r.next}) + "x", {ca}), trust_ca(), "trailing");
  const std::vector<pki::Certificate> nine(kMaxNextCaCertificates + 1, r.next);
  expect_refused(hand_signed(inner_of(nine), {ca}), trust_ca(), "9 certificates (at most 8)");
  // An inner bundle of exactly the limit is fine.
  const std::vector<pki::Certificate> eight(kMaxNextCaCertificates, r.next);
  EXPECT_OK(decode_next_ca_cert(hand_signed(inner_of(eight), {ca}), trust_ca()));
}

TEST(NextCaTest, RefusesOtherOuterShapes) {
  const Rollover& r = rollover();
  const Signer ca{r.current.x509(), r.current_key.evp()};
  const Signer ra{r.ra.x509(), r.ra_key.evp()};
  expect_refused(hand_signed(inner_of({r.next}), {ca, ra}), NextCaTrust{r.current, r.ra},
                 "2 signers");
  expect_refused(hand_signed(inner_of({r.next}), {ca}, NID_pkcs7_signed), trust_ca(),
                 "not id-data");
  expect_refused(answer_by(r.current, r.current_key) + std::string(1, '\0'), trust_ca(),
                 "trailing");
  expect_refused("", trust_ca(), "does not parse");
  expect_refused(r.next.der(), trust_ca(), "does not parse");
  auto enveloped = detail::envelope(inner_of({r.next}), r.current.x509(), CipherAlg::kAes128Cbc);
  ASSERT_OK(enveloped);
  expect_refused(*enveloped, trust_ca(), "is not a SignedData");
}

TEST(NextCaTest, RefusesOversizeInputBeforeParsing) {
  const std::string huge(kMaxNextCaAnswerBytes + 1, '\x30');
  expect_refused(huge, trust_ca(), "too large");
  // At the limit the size is fine and the bytes are what is wrong.
  expect_refused(huge.substr(1), trust_ca(), "does not parse");
}

TEST(NextCaTest, AcceptsBerAsStreamingEncodersWriteIt) {
  const Rollover& r = rollover();
  detail::SignSpec spec;
  spec.cert = r.current.x509();
  spec.key = r.current_key.evp();
  spec.ber = true;
  auto der = detail::sign_data(inner_of({r.next}), spec, {});
  ASSERT_OK(der);
  auto certs = decode_next_ca_cert(*der, trust_ca());
  ASSERT_OK(certs);
  EXPECT_EQ(certs->front(), r.next);
}

TEST(NextCaTest, ConcurrentDecodesShareTrust) {
  const Rollover& r = rollover();
  const std::string good = answer_by(r.current, r.current_key);
  const std::string forged = answer_by(r.stranger, r.stranger_key);
  const NextCaTrust trust{r.current, r.ra};
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto a = decode_next_ca_cert(good, trust);
        auto b = decode_next_ca_cert(forged, trust);
        if (a.has_value() && a->front() == r.next && !b.has_value()) ++ok[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok, std::vector<int>(4, 25));
}

// ---------------------------------------------------------------------------------
// The openssl command-line tool as the third party

class NextCaOpensslTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run("openssl version") != 0) GTEST_SKIP() << "openssl CLI not installed";
  }
};

TEST_F(NextCaOpensslTest, OpensslVerifiesOurAnswerAndReadsTheBundle) {
  const Rollover& r = rollover();
  for (bool by_ra : {false, true}) {
    SCOPED_TRACE(by_ra ? "signed by the RA" : "signed by the CA");
    const std::string der =
        by_ra ? answer_by(r.ra, r.ra_key, {r.next, hierarchy().ra_sign})
              : answer_by(r.current, r.current_key, {r.next, hierarchy().ra_sign});
    TempFile answer(der), current(r.current.pem()), inner;
    std::string out;
    ASSERT_EQ(run("openssl cms -verify -binary -inform DER -in " + answer.path() + " -CAfile " +
                      current.path() + " -out " + inner.path(),
                  &out),
              0)
        << out;
    EXPECT_NE(out.find("Verification successful"), std::string::npos) << out;
    ASSERT_EQ(run("openssl pkcs7 -inform DER -print_certs -in " + inner.path(), &out), 0) << out;
    auto first = pki::Certificate::from_pem(out);
    ASSERT_OK(first);
    EXPECT_EQ(*first, r.next);
    EXPECT_NE(out.find("subject=O = Scepter Test, CN = RA sign"), std::string::npos) << out;

    // SHA-256, id-data around the inner SignedData.
    ASSERT_EQ(run("openssl cms -cmsout -print -inform DER -in " + answer.path(), &out), 0) << out;
    EXPECT_NE(out.find("eContentType: pkcs7-data"), std::string::npos) << out;
    EXPECT_NE(out.find("algorithm: sha256"), std::string::npos) << out;
  }
}

TEST_F(NextCaOpensslTest, OpensslBuiltAnswerDecodes) {
  // An answer made with the openssl CLI alone: crl2pkcs7 for the inner bundle, cms -sign
  // by the current root for the outer SignedData.
  TempFile old_key, old_pem, new_key, new_pem, inner, answer;
  std::string out;
  const std::string ext =
      " -addext basicConstraints=critical,CA:TRUE"
      " -addext keyUsage=critical,digitalSignature,keyCertSign,cRLSign";
  ASSERT_EQ(run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + old_key.path() + " -out " +
                    old_pem.path() + " -days 2 -subj /CN=root" + ext,
                &out),
            0)
      << out;
  ASSERT_EQ(run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + new_key.path() + " -out " +
                    new_pem.path() + " -days 30 -subj /CN=root" + ext,
                &out),
            0)
      << out;
  ASSERT_EQ(run("openssl crl2pkcs7 -nocrl -certfile " + new_pem.path() + " -outform DER -out " +
                    inner.path(),
                &out),
            0)
      << out;
  ASSERT_EQ(
      run("openssl cms -sign -binary -nodetach -in " + inner.path() + " -signer " + old_pem.path() +
              " -inkey " + old_key.path() + " -md sha256 -outform DER -out " + answer.path(),
          &out),
      0)
      << out;
  auto current = pki::Certificate::from_pem(old_pem.read());
  auto next = pki::Certificate::from_pem(new_pem.read());
  ASSERT_OK(current);
  ASSERT_OK(next);
  auto certs = decode_next_ca_cert(answer.read(), NextCaTrust{*current});
  ASSERT_OK(certs);
  ASSERT_EQ(certs->size(), 1u);
  EXPECT_EQ(certs->front(), *next);
  // The same answer is refused by a client that trusts the new root instead.
  EXPECT_CODE(decode_next_ca_cert(answer.read(), NextCaTrust{*next}), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::scep
