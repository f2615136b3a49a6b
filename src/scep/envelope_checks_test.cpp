// What one unauthenticated PKIOperation may cost and what it may learn: the envelope
// and signer checks of decode_pki_message() that come before any private-key operation,
// counted with envelope_decryptions(), and the single answer every failure from the
// envelope on gets.

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/cms.h>
#include <openssl/err.h>

#include "common/testing.h"
#include "scep/cms_util.h"
#include "scep/payload.h"
#include "scep/request.h"
#include "scep/test_fixtures.h"

namespace scepter::scep {
namespace {

using testing::csr_der;
using testing::envelope_to;
using testing::shared_pki;
using testing::signed_message;
using testing::SignedMessage;

// A message from the test client around `envelope`.
std::string from_client(std::string_view envelope, std::string type = "19") {
  const testing::Pki& p = shared_pki();
  SignedMessage m;
  m.signer_cert = p.client_signer.get();
  m.signer_key = p.client_key.get();
  m.message_type = std::move(type);
  return signed_message(envelope, m);
}

// decode_pki_message() for the test CA, and how many private-key operations it took.
struct Decoded {
  DecodeResult result;
  std::uint64_t decryptions = 0;
};
Decoded decode_counting(std::string_view msg, X509* ca_cert = shared_pki().ca_cert.get()) {
  const std::uint64_t before = envelope_decryptions();
  DecodeResult r = decode_pki_message(msg, shared_pki().ca_key.get(), ca_cert);
  return {std::move(r), envelope_decryptions() - before};
}

// The one answer of every envelope failure: replyable badMessageCheck, the generic text.
void expect_envelope_failure(const DecodeResult& r) {
  ASSERT_FALSE(r.has_value());
  const DecodeError& e = r.error();
  EXPECT_TRUE(e.replyable);
  EXPECT_EQ(e.fail_info, FailInfo::kBadMessageCheck) << e.detail;
  EXPECT_EQ(e.status.message(), kEnvelopeFailureText) << e.detail;
  EXPECT_FALSE(e.detail.empty());
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue left dirty";
}

TEST(EnvelopeChecks, AWellFormedRequestTakesOneDecryption) {
  Decoded d = decode_counting(
      from_client(envelope_to(csr_der(shared_pki().csr.get()), {shared_pki().ca_cert.get()})));
  ASSERT_TRUE(d.result.has_value()) << d.result.error().detail;
  EXPECT_EQ(d.decryptions, 1u);
  EXPECT_TRUE(d.result->csr);
}

TEST(EnvelopeChecks, TenThousandRecipientInfosAreRefusedWithoutDecrypting) {
  const testing::Pki& p = shared_pki();
  // Every one of them names our certificate: before, OpenSSL tried the key on each.
  const std::vector<X509*> recipients(10000, p.ca_cert.get());
  const std::string env = envelope_to(csr_der(p.csr.get()), recipients);
  ASSERT_FALSE(env.empty());
  Decoded d = decode_counting(from_client(env));
  expect_envelope_failure(d.result);
  EXPECT_EQ(d.decryptions, 0u);
  EXPECT_NE(d.result.error().detail.find("10000 recipientInfos"), std::string::npos)
      << d.result.error().detail;
}

TEST(EnvelopeChecks, AFewRecipientInfosOpenTheOneNamingUsOnce) {
  const testing::Pki& p = shared_pki();
  // As micromdm's scepclient sends it to a subordinate CA: encrypted to the whole chain.
  for (const std::vector<X509*>& recipients :
       {std::vector<X509*>{p.ca_cert.get(), p.other_cert.get()},
        std::vector<X509*>{p.other_cert.get(), p.ca_cert.get()},
        std::vector<X509*>{p.other_cert.get(), p.other_cert.get(), p.other_cert.get(),
                           p.ca_cert.get()}}) {
    Decoded d = decode_counting(from_client(envelope_to(csr_der(p.csr.get()), recipients)));
    ASSERT_TRUE(d.result.has_value()) << d.result.error().detail;
    EXPECT_EQ(d.decryptions, 1u);
  }
}

TEST(EnvelopeChecks, RecipientInfosNamingUsTwiceOrTooManyAreRefusedWithoutDecrypting) {
  const testing::Pki& p = shared_pki();
  for (const std::vector<X509*>& recipients :
       {std::vector<X509*>{p.ca_cert.get(), p.ca_cert.get()},
        std::vector<X509*>{p.other_cert.get(), p.other_cert.get(), p.other_cert.get(),
                           p.other_cert.get(), p.ca_cert.get()}}) {
    Decoded d = decode_counting(from_client(envelope_to(csr_der(p.csr.get()), recipients)));
    expect_envelope_failure(d.result);
    EXPECT_EQ(d.decryptions, 0u);
  }
}

TEST(EnvelopeChecks, RecipientNamingAnotherCertificateIsRefusedWithoutDecrypting) {
  const testing::Pki& p = shared_pki();
  Decoded d = decode_counting(from_client(envelope_to(csr_der(p.csr.get()), {p.other_cert.get()})));
  expect_envelope_failure(d.result);
  EXPECT_EQ(d.decryptions, 0u);
  EXPECT_NE(d.result.error().detail.find("CN=Other"), std::string::npos) << d.result.error().detail;
}

// Our key opens an envelope for another certificate of the same key, but a client that
// names a certificate we do not answer for is refused all the same (request.h).
TEST(EnvelopeChecks, WrongIssuerAndSerialIsRefusedEvenWithOurKey) {
  const testing::Pki& p = shared_pki();
  auto stale = make_self_signed_signer(p.ca_key.get(), testing::name("Old CA name").get());
  ASSERT_OK(stale);
  Decoded d = decode_counting(from_client(envelope_to(csr_der(p.csr.get()), {stale->get()})));
  expect_envelope_failure(d.result);
  EXPECT_EQ(d.decryptions, 0u);
}

TEST(EnvelopeChecks, EncryptedKeyOfTheWrongLengthIsRefusedWithoutDecrypting) {
  const testing::Pki& p = shared_pki();
  // Names our certificate, but the key is wrapped for a 1024-bit key: 128 bytes, not 256.
  pki::Ptr<EVP_PKEY> small = testing::rsa_key(1024);
  pki::Ptr<X509> fake = testing::impostor(p.ca_cert.get(), small.get(), small.get());
  Decoded d = decode_counting(from_client(envelope_to(csr_der(p.csr.get()), {fake.get()})));
  expect_envelope_failure(d.result);
  EXPECT_EQ(d.decryptions, 0u);
  EXPECT_NE(d.result.error().detail.find("128 bytes"), std::string::npos)
      << d.result.error().detail;
}

TEST(EnvelopeChecks, RecipientInfoOtherThanKeyTransportIsRefused) {
  const testing::Pki& p = shared_pki();
  // KEKRecipientInfo: a symmetric key-encryption key, no certificate at all.
  pki::Ptr<CMS_ContentInfo> env(CMS_EnvelopedData_create(EVP_aes_128_cbc()));
  ASSERT_TRUE(env);
  unsigned char kek[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  unsigned char id[4] = {'k', 'e', 'k', '1'};
  // The structure takes ownership of copies made with OPENSSL_memdup.
  ASSERT_NE(CMS_add0_recipient_key(
                env.get(), NID_undef, static_cast<unsigned char*>(OPENSSL_memdup(kek, sizeof kek)),
                sizeof kek, static_cast<unsigned char*>(OPENSSL_memdup(id, sizeof id)), sizeof id,
                nullptr, nullptr, nullptr),
            nullptr);
  const std::string csr = csr_der(p.csr.get());
  auto in = detail::read_bio(csr);
  ASSERT_EQ(CMS_final(env.get(), in->get(), nullptr, CMS_BINARY), 1);
  auto env_der = detail::cms_der(env.get());
  ASSERT_OK(env_der);
  Decoded d = decode_counting(from_client(*env_der));
  expect_envelope_failure(d.result);
  EXPECT_EQ(d.decryptions, 0u);
  EXPECT_NE(d.result.error().detail.find("not a KeyTransRecipientInfo"), std::string::npos)
      << d.result.error().detail;
}

TEST(EnvelopeChecks, SubjectKeyIdentifierRecipientIsAccepted) {
  const testing::Pki& p = shared_pki();
  pki::Ptr<X509> ca = testing::cert_with_ski(p.ca_key.get(), "CA with SKI");
  const std::string csr = csr_der(p.csr.get());
  Decoded d = decode_counting(from_client(envelope_to(csr, {ca.get()}, CMS_USE_KEYID)), ca.get());
  ASSERT_TRUE(d.result.has_value()) << d.result.error().detail;
  EXPECT_EQ(d.decryptions, 1u);
  EXPECT_EQ(d.result->payload, csr);

  // Another key's identifier, under the same issuer and serial: refused, not tried.
  pki::Ptr<X509> other = testing::cert_with_ski(p.other_key.get(), "CA with SKI");
  Decoded o =
      decode_counting(from_client(envelope_to(csr, {other.get()}, CMS_USE_KEYID)), ca.get());
  expect_envelope_failure(o.result);
  EXPECT_EQ(o.decryptions, 0u);
  EXPECT_NE(o.result.error().detail.find("subjectKeyIdentifier"), std::string::npos)
      << o.result.error().detail;
}

// The case that used to fail one time in 256: an envelope that names us but whose key
// was wrapped for another RSA key. The padding check fails (or, rarely, passes on
// garbage); either way the content is garbage and the answer is the same.
TEST(EnvelopeChecks, KeyWrappedForAnotherKeyAlwaysGetsTheSameAnswer) {
  const testing::Pki& p = shared_pki();
  pki::Ptr<X509> fake = testing::impostor(p.ca_cert.get(), p.other_key.get(), p.other_key.get());
  const std::string csr = csr_der(p.csr.get());
  for (int i = 0; i < 40; ++i) {
    Decoded d = decode_counting(from_client(envelope_to(csr, {fake.get()})));
    expect_envelope_failure(d.result);
    EXPECT_EQ(d.decryptions, 1u);
  }
}

// Good padding, bad payload: what Bleichenbacher's attack would need told apart from a
// bad padding. The answer is the one above, for every messageType.
TEST(EnvelopeChecks, ContentThatIsNotWhatTheTypeSaysGetsTheSameAnswer) {
  const testing::Pki& p = shared_pki();
  pki::Ptr<ASN1_STRING> serial(ASN1_INTEGER_new());
  ASN1_INTEGER_set(serial.get(), 5);
  const std::string ias =
      *encode_issuer_and_serial(X509_get_subject_name(p.ca_cert.get()), serial.get());
  struct Case {
    std::string type;
    std::string payload;
  };
  const std::vector<Case> cases = {
      {"19", "not DER"}, {"19", ias},           {"17", std::string("\x30\x00", 2)},
      {"20", "not DER"}, {"20", ias + "x"},     {"21", csr_der(p.csr.get())},
      {"22", "not DER"}, {"19", std::string()},
  };
  for (const Case& c : cases) {
    Decoded d = decode_counting(from_client(envelope_to(c.payload, {p.ca_cert.get()}), c.type));
    SCOPED_TRACE(c.type);
    expect_envelope_failure(d.result);
    EXPECT_EQ(d.decryptions, 1u);
    EXPECT_EQ(d.result.error().type, parse_message_type(c.type));
  }
}

// A message for the signer-key checks: signed by the client, but carrying a certificate
// with the client's issuer and serial and `key` instead (so the signerInfo points at it).
std::string signed_with_carried_key(EVP_PKEY* key) {
  const testing::Pki& p = shared_pki();
  pki::Ptr<X509> carried = testing::impostor(p.client_signer.get(), key, p.client_key.get());
  SignedMessage m;
  m.signer_cert = p.client_signer.get();
  m.signer_key = p.client_key.get();
  m.carried_cert = carried.get();
  return signed_message(envelope_to(csr_der(p.csr.get()), {p.ca_cert.get()}), m);
}

TEST(SignerKeyChecks, OutOfBoundsKeysAreBadAlgBeforeAnyKeyOperation) {
  struct Case {
    int bits;
    const char* e;
  };
  for (const Case& c : {Case{8192, "65537"}, Case{4104, "65537"}, Case{1016, "65537"},
                        Case{512, "65537"}, Case{2048, "0x10000000001"},  // 2^40 + 1
                        Case{2048, "0x100000001"},                        // 2^32 + 1
                        Case{2048, "65536"}, Case{2048, "1"}}) {
    SCOPED_TRACE(std::to_string(c.bits) + " bits, e=" + c.e);
    pki::Ptr<EVP_PKEY> key = testing::fake_rsa_public_key(c.bits, c.e);
    ASSERT_TRUE(key);
    Decoded d = decode_counting(signed_with_carried_key(key.get()));
    ASSERT_FALSE(d.result.has_value());
    // badAlg, not badMessageCheck: the signature (which does not match this key) was
    // never checked.
    EXPECT_EQ(d.result.error().fail_info, FailInfo::kBadAlg) << d.result.error().status.message();
    EXPECT_TRUE(d.result.error().replyable);
    EXPECT_EQ(d.decryptions, 0u);
  }
}

TEST(SignerKeyChecks, BoundsThemselvesPassTheKeyCheck) {
  // Keys at the bounds pass the key check and fail only later, on the signature.
  for (const char* e : {"3", "0xFFFFFFFF"}) {
    for (int bits : {1024, 4096}) {
      SCOPED_TRACE(std::to_string(bits) + " bits, e=" + e);
      pki::Ptr<EVP_PKEY> key = testing::fake_rsa_public_key(bits, e);
      ASSERT_TRUE(key);
      Decoded d = decode_counting(signed_with_carried_key(key.get()));
      ASSERT_FALSE(d.result.has_value());
      EXPECT_EQ(d.result.error().fail_info, FailInfo::kBadMessageCheck);
      EXPECT_EQ(d.decryptions, 0u);
    }
  }
}

TEST(SignerKeyChecks, EcSignerIsBadAlg) {
  pki::Ptr<EVP_PKEY> ec(EVP_EC_gen("P-256"));
  ASSERT_TRUE(ec);
  auto signer = make_self_signed_signer(ec.get(), testing::name("EC client").get());
  ASSERT_OK(signer);
  SignedMessage m;
  m.signer_cert = signer->get();
  m.signer_key = ec.get();
  Decoded d = decode_counting(signed_message(
      envelope_to(csr_der(shared_pki().csr.get()), {shared_pki().ca_cert.get()}), m));
  ASSERT_FALSE(d.result.has_value());
  EXPECT_EQ(d.result.error().fail_info, FailInfo::kBadAlg);
  EXPECT_EQ(d.decryptions, 0u);
}

TEST(Escaping, UnknownMessageTypeIsQuotedEscaped) {
  const std::string msg = from_client(
      envelope_to(csr_der(shared_pki().csr.get()), {shared_pki().ca_cert.get()}), "1\x1b[2J\n\xff");
  Decoded d = decode_counting(msg);
  ASSERT_FALSE(d.result.has_value());
  EXPECT_EQ(d.result.error().fail_info, FailInfo::kBadRequest);
  const std::string& text = d.result.error().status.message();
  EXPECT_EQ(text, "unknown messageType '1\\x1B[2J\\x0A\\xFF'");
  EXPECT_EQ(d.decryptions, 0u);
}

TEST(Escaping, PrintableTextKeepsPrintableAsciiOnly) {
  EXPECT_EQ(detail::printable_text("abc XYZ 019 ~"), "abc XYZ 019 ~");
  EXPECT_EQ(detail::printable_text(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(detail::printable_text("back\\slash"), "back\\x5Cslash");
  EXPECT_EQ(detail::printable_text("\xc3\xa9\x7f"), "\\xC3\\xA9\\x7F");
  EXPECT_EQ(detail::printable_text("abcdef", 3), "abc...");
}

}  // namespace
}  // namespace scepter::scep
