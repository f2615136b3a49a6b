// decode_pki_message on hostile, broken and unusual input: the failInfo it picks, and
// whether a FAILURE CertRep can be sent back.

#include <cstdint>

#include <gtest/gtest.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/testing.h"
#include "scep/client.h"
#include "scep/cms_util.h"
#include "scep/payload.h"
#include "scep/request.h"
#include "scep/test_fixtures.h"

namespace scepter::scep {
namespace {

using testing::csr_der;
using testing::shared_pki;

const std::string kTid = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";
const std::string kNonce = "fedcba9876543210";

DecodeResult decode(std::string_view msg) {
  const testing::Pki& p = shared_pki();
  return decode_pki_message(msg, p.ca_key.get(), p.ca_cert.get());
}

std::string good_request(bool ber = false) {
  const testing::Pki& p = shared_pki();
  PkiRequestParams rq;
  rq.payload = csr_der(p.csr.get());
  rq.signer_cert = p.client_signer.get();
  rq.signer_key = p.client_key.get();
  rq.recipient_cert = p.ca_cert.get();
  rq.transaction_id = kTid;
  rq.sender_nonce = kNonce;
  rq.ber = ber;
  return *encode_pki_request(rq);
}

std::vector<detail::Attribute> scep_attrs(std::string type, std::string tid = kTid,
                                          std::string nonce = kNonce) {
  const AttributeTypes& n = attribute_types();
  std::vector<detail::Attribute> attrs;
  if (!type.empty()) attrs.push_back({n.message_type.obj, V_ASN1_PRINTABLESTRING, type});
  if (!tid.empty()) attrs.push_back({n.transaction_id.obj, V_ASN1_PRINTABLESTRING, tid});
  if (!nonce.empty()) attrs.push_back({n.sender_nonce.obj, V_ASN1_OCTET_STRING, nonce});
  return attrs;
}

std::string ca_envelope(std::string_view payload) {
  return *detail::envelope(payload, shared_pki().ca_cert.get(), CipherAlg::kAes128Cbc);
}

std::string client_signed(std::string_view content, std::vector<detail::Attribute> attrs,
                          bool include_cert = true) {
  detail::SignSpec spec;
  spec.cert = shared_pki().client_signer.get();
  spec.key = shared_pki().client_key.get();
  spec.include_cert = include_cert;
  return *detail::sign_data(content, spec, attrs);
}

// SignedData with arbitrary digests and any number of signers, straight from OpenSSL.
struct RawSigner {
  X509* cert;
  EVP_PKEY* key;
  const EVP_MD* md;
};
std::string raw_signed(std::string_view content, const std::vector<RawSigner>& signers,
                       const std::vector<detail::Attribute>& attrs) {
  pki::Ptr<CMS_ContentInfo> cms(
      CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_BINARY));
  for (const RawSigner& s : signers) {
    CMS_SignerInfo* si = CMS_add1_signer(cms.get(), s.cert, s.key, s.md, CMS_BINARY);
    EXPECT_NE(si, nullptr);
    for (const auto& a : attrs) {
      CMS_signed_add1_attr_by_OBJ(si, a.obj, a.type, a.value.data(),
                                  static_cast<int>(a.value.size()));
    }
  }
  auto in = detail::read_bio(content);
  EXPECT_EQ(CMS_final(cms.get(), in->get(), nullptr, CMS_BINARY), 1);
  return *detail::cms_der(cms.get());
}

void expect_replyable(const DecodeResult& r, FailInfo want) {
  ASSERT_FALSE(r.has_value());
  const DecodeError& e = r.error();
  EXPECT_TRUE(e.replyable) << e.status.to_string();
  EXPECT_EQ(e.fail_info, want) << e.status.to_string();
  EXPECT_EQ(e.transaction_id, kTid);
  EXPECT_EQ(e.sender_nonce, kNonce);
  EXPECT_FALSE(e.status.ok());
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue left dirty";
}

void expect_not_replyable(const DecodeResult& r) {
  ASSERT_FALSE(r.has_value());
  EXPECT_FALSE(r.error().replyable) << r.error().status.to_string();
  EXPECT_EQ(r.error().status.code(), Code::kInvalidArgument) << r.error().status.to_string();
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue left dirty";
}

TEST(DecodeErrors, GarbageTruncatedAndEmptyAreNotReplyable) {
  expect_not_replyable(decode(""));
  expect_not_replyable(decode("hello, world"));
  expect_not_replyable(decode(std::string("\x30\x80\x00\x00", 4)));
  const std::string msg = good_request();
  for (size_t cut : {size_t{1}, size_t{10}, msg.size() / 2, msg.size() - 1}) {
    expect_not_replyable(decode(msg.substr(0, cut)));
  }
  expect_not_replyable(decode(msg + "x"));  // trailing bytes
}

TEST(DecodeErrors, NotASignedDataIsNotReplyable) {
  expect_not_replyable(decode(ca_envelope("payload")));
}

TEST(DecodeErrors, FlippedSignatureByteIsBadMessageCheck) {
  std::string msg = good_request();
  // DER ends with the signerInfo's signature (2048-bit RSA: the last 256 bytes).
  msg[msg.size() - 20] ^= 0x01;
  DecodeResult r = decode(msg);
  expect_replyable(r, FailInfo::kBadMessageCheck);
  EXPECT_TRUE(r.error().signer);  // the certificate was there; only the signature is bad
  EXPECT_EQ(r.error().digest, DigestAlg::kSha256);
}

TEST(DecodeErrors, TamperedContentIsBadMessageCheck) {
  std::string env = ca_envelope(csr_der(shared_pki().csr.get()));
  std::string msg = client_signed(env, scep_attrs("19"));
  // Change one byte of the encrypted content inside the signed message.
  size_t at = msg.find(env.substr(env.size() - 32));
  ASSERT_NE(at, std::string::npos);
  msg[at + 5] ^= 0x40;
  expect_replyable(decode(msg), FailInfo::kBadMessageCheck);
}

TEST(DecodeErrors, SwappedContentIsBadMessageCheck) {
  // A second, equally valid envelope of the same length put in place of the signed one:
  // only the messageDigest check can notice.
  const std::string csr = csr_der(shared_pki().csr.get());
  std::string env = ca_envelope(csr);
  std::string other = ca_envelope(csr);
  ASSERT_EQ(env.size(), other.size());
  ASSERT_NE(env, other);
  std::string msg = client_signed(env, scep_attrs("19"));
  size_t at = msg.find(env);
  ASSERT_NE(at, std::string::npos);
  ASSERT_TRUE(decode(msg).has_value());
  msg.replace(at, env.size(), other);
  expect_replyable(decode(msg), FailInfo::kBadMessageCheck);
}

TEST(DecodeErrors, EnvelopeForAnotherKeyIsBadMessageCheck) {
  const testing::Pki& p = shared_pki();
  PkiRequestParams rq;
  rq.payload = csr_der(p.csr.get());
  rq.signer_cert = p.client_signer.get();
  rq.signer_key = p.client_key.get();
  rq.recipient_cert = p.other_cert.get();  // not the CA
  rq.transaction_id = kTid;
  rq.sender_nonce = kNonce;
  const std::uint64_t before = envelope_decryptions();
  DecodeResult r = decode(*encode_pki_request(rq));
  expect_replyable(r, FailInfo::kBadMessageCheck);
  EXPECT_EQ(r.error().status.message(), kEnvelopeFailureText);
  EXPECT_TRUE(r.error().signer);
  EXPECT_EQ(envelope_decryptions(), before);  // refused on the recipientInfo alone
}

TEST(DecodeErrors, UnknownCipherIsBadAlgWithOid) {
  const testing::Pki& p = shared_pki();
  detail::X509Stack recips(sk_X509_new_null());
  sk_X509_push(recips.get(), pki::up_ref(p.ca_cert.get()).release());
  auto in = detail::read_bio("payload");
  pki::Ptr<CMS_ContentInfo> env(
      CMS_encrypt(recips.get(), in->get(), EVP_camellia_128_cbc(), CMS_BINARY));
  ASSERT_TRUE(env);
  DecodeResult r = decode(client_signed(*detail::cms_der(env.get()), scep_attrs("19")));
  expect_replyable(r, FailInfo::kBadAlg);
  EXPECT_NE(r.error().status.message().find("1.2.392.200011.61.1.1.1.2"), std::string::npos)
      << r.error().status.message();
}

TEST(DecodeErrors, UnknownDigestIsBadAlgWithOid) {
  const testing::Pki& p = shared_pki();
  std::string msg =
      raw_signed(ca_envelope(csr_der(p.csr.get())),
                 {{p.client_signer.get(), p.client_key.get(), EVP_sha3_256()}}, scep_attrs("19"));
  DecodeResult r = decode(msg);
  expect_replyable(r, FailInfo::kBadAlg);
  EXPECT_NE(r.error().status.message().find("2.16.840.1.101.3.4.2.8"), std::string::npos)
      << r.error().status.message();
  EXPECT_EQ(r.error().digest, DigestAlg::kSha256);  // what the reply will be signed with
}

TEST(DecodeErrors, TwoSignersAreNotReplyable) {
  const testing::Pki& p = shared_pki();
  std::string msg = raw_signed(ca_envelope(csr_der(p.csr.get())),
                               {{p.client_signer.get(), p.client_key.get(), EVP_sha256()},
                                {p.other_cert.get(), p.other_key.get(), EVP_sha256()}},
                               scep_attrs("19"));
  expect_not_replyable(decode(msg));
}

TEST(DecodeErrors, MissingEchoFieldsAreNotReplyable) {
  std::string env = ca_envelope(csr_der(shared_pki().csr.get()));
  expect_not_replyable(decode(client_signed(env, scep_attrs("19", "", kNonce))));
  expect_not_replyable(decode(client_signed(env, scep_attrs("19", kTid, ""))));
  expect_not_replyable(decode(client_signed(env, scep_attrs("19", "tid\nwith newline"))));
  expect_not_replyable(decode(client_signed(env, scep_attrs("19", kTid, std::string(65, 'n')))));
}

TEST(DecodeErrors, OddNonceLengthsAreAccepted) {
  std::string env = ca_envelope(csr_der(shared_pki().csr.get()));
  for (size_t len : {size_t{8}, size_t{20}, size_t{64}}) {
    DecodeResult r = decode(client_signed(env, scep_attrs("19", kTid, std::string(len, 'n'))));
    ASSERT_TRUE(r.has_value()) << r.error().status.to_string();
    EXPECT_EQ(r->sender_nonce.size(), len);
  }
}

TEST(DecodeErrors, UnknownOrMissingMessageTypeIsBadRequest) {
  std::string env = ca_envelope(csr_der(shared_pki().csr.get()));
  for (const char* type : {"18", "019", "3", "x"}) {
    DecodeResult r = decode(client_signed(env, scep_attrs(type)));
    expect_replyable(r, FailInfo::kBadRequest);
  }
  expect_replyable(decode(client_signed(env, scep_attrs(""))), FailInfo::kBadRequest);
}

// Decrypted content that is not what the messageType says gets the answer of an
// envelope that does not decrypt: no oracle on the padding inside.
TEST(DecodeErrors, PayloadOfTheWrongKindIsLikeAnUndecryptableEnvelope) {
  const testing::Pki& p = shared_pki();
  pki::Ptr<ASN1_STRING> serial(ASN1_INTEGER_new());
  ASN1_INTEGER_set(serial.get(), 5);
  std::string ias = *encode_issuer_and_serial(X509_get_subject_name(p.ca_cert.get()), serial.get());
  for (const std::string& msg : {client_signed(ca_envelope(ias), scep_attrs("19")),
                                 client_signed(ca_envelope(csr_der(p.csr.get())), scep_attrs("21")),
                                 client_signed(ca_envelope("not DER"), scep_attrs("20"))}) {
    DecodeResult r = decode(msg);
    expect_replyable(r, FailInfo::kBadMessageCheck);
    EXPECT_EQ(r.error().status.message(), kEnvelopeFailureText);
    EXPECT_FALSE(r.error().detail.empty());
  }
}

// The PKCS#10 is read here as the CA reads every request (pki::Csr::parse): one it
// refuses (a key on a curve it does not take, the request as PEM text) gets the same
// answer as an envelope that does not open, before the CA sees it.
TEST(DecodeErrors, RequestTheCaRefusesIsLikeAnUndecryptableEnvelope) {
  pki::Ptr<EVP_PKEY> k1(EVP_EC_gen("secp256k1"));
  ASSERT_TRUE(k1);
  const std::string k1_csr = csr_der(testing::make_csr(k1.get(), "router2.example.com").get());
  pki::Ptr<BIO> pem(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509_REQ(pem.get(), shared_pki().csr.get()), 1);
  char* text = nullptr;
  const long len = BIO_get_mem_data(pem.get(), &text);
  for (const std::string& payload : {k1_csr, std::string(text, static_cast<std::size_t>(len))}) {
    DecodeResult r = decode(client_signed(ca_envelope(payload), scep_attrs("19")));
    expect_replyable(r, FailInfo::kBadMessageCheck);
    EXPECT_EQ(r.error().status.message(), kEnvelopeFailureText);
    EXPECT_NE(r.error().detail.find("payload"), std::string::npos) << r.error().detail;
  }
  // The same request in DER, with a key the CA takes, decodes.
  DecodeResult ok =
      decode(client_signed(ca_envelope(csr_der(shared_pki().csr.get())), scep_attrs("19")));
  ASSERT_TRUE(ok.has_value()) << ok.error().status.to_string();
  ASSERT_TRUE(ok->csr.has_value());
  EXPECT_EQ(ok->csr->der(), csr_der(shared_pki().csr.get()));
}

TEST(DecodeErrors, ContentThatIsNoEnvelopeIsBadMessageCheck) {
  DecodeResult r = decode(client_signed("plain text", scep_attrs("19")));
  expect_replyable(r, FailInfo::kBadMessageCheck);
  EXPECT_EQ(r.error().status.message(), kEnvelopeFailureText);
}

TEST(DecodeErrors, MissingSignerCertificateIsBadMessageCheck) {
  std::string env = ca_envelope(csr_der(shared_pki().csr.get()));
  DecodeResult r = decode(client_signed(env, scep_attrs("19"), /*include_cert=*/false));
  expect_replyable(r, FailInfo::kBadMessageCheck);
  EXPECT_FALSE(r.error().signer);
}

TEST(DecodeErrors, NoKeyIsAnInternalError) {
  DecodeResult r = decode_pki_message(good_request(), nullptr, nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status.code(), Code::kInternal);
}

TEST(DecodeBer, IndefiniteLengthMessageDecodes) {
  const std::string ber = good_request(/*ber=*/true);
  // Indefinite-length outer ContentInfo, as OpenSSL's streaming encoder writes it.
  ASSERT_GE(ber.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(ber[0]), 0x30);
  EXPECT_EQ(static_cast<unsigned char>(ber[1]), 0x80);
  DecodeResult r = decode(ber);
  ASSERT_TRUE(r.has_value()) << r.error().status.to_string();
  EXPECT_EQ(r->transaction_id, kTid);
  EXPECT_EQ(r->payload, csr_der(shared_pki().csr.get()));
}

// The way sscep builds a PKCSReq: OpenSSL's PKCS#7 API rather than CMS.
TEST(DecodeBer, Pkcs7ApiMessageDecodes) {
  const testing::Pki& p = shared_pki();
  const AttributeTypes& n = attribute_types();
  const std::string csr = csr_der(p.csr.get());
  auto in = detail::read_bio(csr);
  detail::X509Stack recips(sk_X509_new_null());
  sk_X509_push(recips.get(), pki::up_ref(p.ca_cert.get()).release());
  pki::Ptr<PKCS7> env(PKCS7_encrypt(recips.get(), in->get(), EVP_des_ede3_cbc(), PKCS7_BINARY));
  ASSERT_TRUE(env);
  std::string env_der(static_cast<size_t>(i2d_PKCS7(env.get(), nullptr)), '\0');
  auto* w = reinterpret_cast<unsigned char*>(env_der.data());
  i2d_PKCS7(env.get(), &w);

  pki::Ptr<PKCS7> p7(PKCS7_new());
  ASSERT_EQ(PKCS7_set_type(p7.get(), NID_pkcs7_signed), 1);
  PKCS7_SIGNER_INFO* si =
      PKCS7_add_signature(p7.get(), p.client_signer.get(), p.client_key.get(), EVP_sha1());
  ASSERT_NE(si, nullptr);
  PKCS7_add_certificate(p7.get(), p.client_signer.get());
  auto add = [&](int nid, int type, std::string_view value) {
    pki::Ptr<ASN1_STRING> s(ASN1_STRING_type_new(type));
    ASN1_STRING_set(s.get(), value.data(), static_cast<int>(value.size()));
    ASSERT_EQ(PKCS7_add_signed_attribute(si, nid, type, s.get()), 1);
    s.release();  // the signerInfo owns it now
  };
  add(n.message_type.nid, V_ASN1_PRINTABLESTRING, "19");
  add(n.transaction_id.nid, V_ASN1_PRINTABLESTRING, kTid);
  add(n.sender_nonce.nid, V_ASN1_OCTET_STRING, kNonce);
  PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data));
  ASSERT_EQ(PKCS7_content_new(p7.get(), NID_pkcs7_data), 1);
  pki::Ptr<BIO> data(PKCS7_dataInit(p7.get(), nullptr));
  ASSERT_TRUE(data);
  BIO_write(data.get(), env_der.data(), static_cast<int>(env_der.size()));
  (void)BIO_flush(data.get());
  ASSERT_EQ(PKCS7_dataFinal(p7.get(), data.get()), 1);
  std::string msg(static_cast<size_t>(i2d_PKCS7(p7.get(), nullptr)), '\0');
  w = reinterpret_cast<unsigned char*>(msg.data());
  i2d_PKCS7(p7.get(), &w);

  DecodeResult r = decode(msg);
  ASSERT_TRUE(r.has_value()) << r.error().status.to_string();
  EXPECT_EQ(r->digest, DigestAlg::kSha1);
  EXPECT_EQ(r->cipher, CipherAlg::kDes3Cbc);
  EXPECT_TRUE(r->csr);
}

}  // namespace
}  // namespace scepter::scep
