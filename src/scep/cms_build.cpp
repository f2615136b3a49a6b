// The writers of cms_util.h: SignedData (sign_data), EnvelopedData (envelope) and the
// degenerate certs-only SignedData (degenerate, degenerate_der). For RSA keys in DER they
// write the bytes themselves, as OpenSSL's CMS code writes them (cms_sign_test.cpp,
// cms_envelope_test.cpp, degenerate_test.cpp hold them together); BER and other keys go
// through OpenSSL's CMS code.

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <ctime>
#include <utility>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include "pki/crl_der.h"
#include "pki/io.h"
#include "scep/cms_util.h"

namespace scepter::scep::detail {
namespace {
Status add_attribute(CMS_SignerInfo* si, const Attribute& a) {
  if (a.value.size() > INT_MAX) return invalid_argument("signed attribute too long");
  if (CMS_signed_add1_attr_by_OBJ(si, a.obj, a.type, a.value.data(),
                                  static_cast<int>(a.value.size())) != 1) {
    return pki::last_error("adding a signed attribute");
  }
  return ok_status();
}

Status add_signing_time(CMS_SignerInfo* si, std::time_t when) {
  // UTCTime up to 2049 and GeneralizedTime after, as RFC 5652 requires.
  pki::Ptr<ASN1_STRING> t(ASN1_TIME_adj(nullptr, when, 0, 0));
  if (!t) return pki::last_error("encoding signingTime");
  // With length -1 the value is the ASN1_STRING itself, copied by OpenSSL.
  if (CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t.get(), -1) != 1) {
    return pki::last_error("adding signingTime");
  }
  return ok_status();
}

// Just enough of an EnvelopedData ContentInfo (RFC 5652 §6.1) to read the
// content-encryption algorithm and the RecipientInfos without a key; whatever is not

// SignedData through OpenSSL's CMS code: BER, and signers other than RSA.
Result<std::string> sign_data_cms(std::string_view content, const SignSpec& spec,
                                  const std::vector<Attribute>& attributes) {
  const unsigned stream = spec.ber ? CMS_STREAM : 0;
  pki::Ptr<CMS_ContentInfo> cms(
      CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_BINARY | stream));
  if (!cms) return fail(pki::last_error("CMS_sign"));
  // No S/MIME capabilities: SCEP peers have no use for them. OpenSSL picks the
  // signatureAlgorithm from the key: rsaEncryption for PKCS#1 v1.5 RSA keys.
  const unsigned signer_flags = CMS_BINARY | CMS_NOSMIMECAP | (spec.include_cert ? 0 : CMS_NOCERTS);
  CMS_SignerInfo* si =
      CMS_add1_signer(cms.get(), spec.cert, spec.key, evp_md(spec.digest), signer_flags);
  if (si == nullptr) return fail(pki::last_error("CMS_add1_signer"));
  for (const Attribute& a : attributes) RETURN_IF_ERROR(add_attribute(si, a));
  if (spec.signing_time) RETURN_IF_ERROR(add_signing_time(si, *spec.signing_time));

  ASSIGN_OR_RETURN(pki::Ptr<BIO> in, read_bio(content));
  if (!spec.ber) {
    if (CMS_final(cms.get(), in.get(), nullptr, CMS_BINARY) != 1) {
      return fail(pki::last_error("signing"));
    }
    return cms_der(cms.get());
  }
  pki::Ptr<BIO> out(BIO_new(BIO_s_mem()));
  if (!out || i2d_CMS_bio_stream(out.get(), cms.get(), in.get(), CMS_STREAM | CMS_BINARY) != 1) {
    return fail(pki::last_error("signing (streaming)"));
  }
  return bio_bytes(out.get());
}

// The DER TLV of an object identifier.
std::string object_der(const ASN1_OBJECT* obj) {
  std::string out;
  const int len = obj == nullptr ? 0 : i2d_ASN1_OBJECT(obj, nullptr);
  if (len <= 0) return out;
  out.resize(static_cast<std::size_t>(len));
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_ASN1_OBJECT(obj, &p);
  return out;
}

std::string oid_der(int nid) { return object_der(OBJ_nid2obj(nid)); }

// AlgorithmIdentifier { rsaEncryption, NULL }: the key transport of an envelope and the
// signatureAlgorithm of a SignedData, as OpenSSL's CMS code writes both.
const std::string& rsa_encryption_der() {
  static const std::string der = [] {
    std::string out;
    pki::der::append_framed(out, pki::der::kSequence,
                            oid_der(NID_rsaEncryption) + std::string("\x05\x00", 2));
    return out;
  }();
  return der;
}

std::string_view bytes_of(const unsigned char* p, std::size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

// What CMS_encrypt writes in DER for one RSA key-transport recipient named by
// issuerAndSerialNumber, without OpenSSL's CMS objects:
//   ContentInfo { envelopedData, [0] EnvelopedData { version 0,
//     recipientInfos SET { KeyTransRecipientInfo { version 0, rid, rsaEncryption NULL,
//                                                  encryptedKey } },
//     encryptedContentInfo { data, AlgorithmIdentifier { cipher, IV },
//                            [0] IMPLICIT encryptedContent } } }
// The content key comes from EVP_CIPHER_CTX_rand_key (DES keys get their parity, as
// CMS_encrypt sets it); the key transport is PKCS#1 v1.5 (RFC 8894 section 3.2.1).
Result<std::string> envelope_rsa(std::string_view content, std::string_view rid,
                                 EVP_PKEY* recipient_key, CipherAlg cipher) {
  const EVP_CIPHER* evp = evp_cipher(cipher);
  pki::Ptr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), evp, nullptr, nullptr, nullptr) != 1) {
    return fail(pki::last_error("encrypting the pkcsPKIEnvelope"));
  }
  const int key_len = EVP_CIPHER_CTX_get_key_length(ctx.get());
  const int iv_len = EVP_CIPHER_CTX_get_iv_length(ctx.get());
  unsigned char key[EVP_MAX_KEY_LENGTH];
  unsigned char iv[EVP_MAX_IV_LENGTH];
  struct Cleanse {
    unsigned char* key;
    ~Cleanse() { OPENSSL_cleanse(key, EVP_MAX_KEY_LENGTH); }
  } cleanse{key};
  if (key_len <= 0 || key_len > EVP_MAX_KEY_LENGTH || iv_len <= 0 || iv_len > EVP_MAX_IV_LENGTH ||
      EVP_CIPHER_CTX_rand_key(ctx.get(), key) != 1 || RAND_bytes(iv, iv_len) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key, iv) != 1) {
    return fail(pki::last_error("encrypting the pkcsPKIEnvelope"));
  }
  std::string encrypted(content.size() + static_cast<std::size_t>(EVP_MAX_BLOCK_LENGTH), '\0');
  auto* out = reinterpret_cast<unsigned char*>(encrypted.data());
  int n = 0, last = 0;
  if (content.size() > static_cast<std::size_t>(INT_MAX) ||
      EVP_EncryptUpdate(ctx.get(), out, &n, reinterpret_cast<const unsigned char*>(content.data()),
                        static_cast<int>(content.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + n, &last) != 1) {
    return fail(pki::last_error("encrypting the pkcsPKIEnvelope"));
  }
  encrypted.resize(static_cast<std::size_t>(n) + static_cast<std::size_t>(last));

  pki::Ptr<EVP_PKEY_CTX> pctx(EVP_PKEY_CTX_new(recipient_key, nullptr));
  std::size_t ek_len = 0;
  if (!pctx || EVP_PKEY_encrypt_init(pctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx.get(), RSA_PKCS1_PADDING) != 1 ||
      EVP_PKEY_encrypt(pctx.get(), nullptr, &ek_len, key, static_cast<std::size_t>(key_len)) != 1) {
    return fail(pki::last_error("encrypting the content key"));
  }
  std::string ek(ek_len, '\0');
  if (EVP_PKEY_encrypt(pctx.get(), reinterpret_cast<unsigned char*>(ek.data()), &ek_len, key,
                       static_cast<std::size_t>(key_len)) != 1) {
    return fail(pki::last_error("encrypting the content key"));
  }
  ek.resize(ek_len);

  using pki::der::append_framed;
  constexpr unsigned char kSet = 0x31, kOctetString = 0x04, kImplicit0 = 0x80;
  constexpr std::string_view kVersion0("\x02\x01\x00", 3);
  std::string ktri(kVersion0);
  ktri += rid;
  ktri += rsa_encryption_der();
  append_framed(ktri, kOctetString, ek);
  std::string ktri_seq;
  append_framed(ktri_seq, pki::der::kSequence, ktri);

  std::string cipher_alg = oid_der(EVP_CIPHER_get_type(evp));
  append_framed(cipher_alg, kOctetString, bytes_of(iv, static_cast<std::size_t>(iv_len)));
  std::string eci = oid_der(NID_pkcs7_data);
  append_framed(eci, pki::der::kSequence, cipher_alg);
  append_framed(eci, kImplicit0, encrypted);

  std::string env(kVersion0);
  append_framed(env, kSet, ktri_seq);
  append_framed(env, pki::der::kSequence, eci);
  std::string env_seq;
  append_framed(env_seq, pki::der::kSequence, env);
  std::string info = oid_der(NID_pkcs7_enveloped);
  append_framed(info, pki::der::kContext0, env_seq);
  std::string der;
  append_framed(der, pki::der::kSequence, info);
  return der;
}

// A TLV: identifier, DER length, content.
std::string tlv(unsigned char identifier, std::string_view content) {
  std::string out;
  pki::der::append_framed(out, identifier, content);
  return out;
}

// An Attribute { type, SET { value } } with one value.
std::string attribute_der(std::string_view type_oid, std::string_view value_tlv) {
  constexpr unsigned char kSet = 0x31;
  return tlv(pki::der::kSequence, std::string(type_oid) + tlv(kSet, value_tlv));
}

// The digest's AlgorithmIdentifier as CMS writes it (X509_ALGOR_set_md: parameters
// absent or NULL, as the digest says), computed once per digest.
const std::string& digest_algorithm_der(DigestAlg digest) {
  static const std::array<std::string, 6> encoded = [] {
    std::array<std::string, 6> out;
    for (DigestAlg d : {DigestAlg::kMd5, DigestAlg::kSha1, DigestAlg::kSha224, DigestAlg::kSha256,
                        DigestAlg::kSha384, DigestAlg::kSha512}) {
      pki::Ptr<X509_ALGOR> alg(X509_ALGOR_new());
      if (alg) {
        X509_ALGOR_set_md(alg.get(), evp_md(d));
        out[static_cast<std::size_t>(d)] = pki::to_der(i2d_X509_ALGOR, alg.get());
      }
    }
    return out;
  }();
  return encoded[static_cast<std::size_t>(digest)];
}

// SignedData written directly, for an RSA signer in DER: what CMS_final writes for
//   ContentInfo { signedData, [0] SignedData { version 1, digestAlgorithms { digest },
//     encapContentInfo { data, [0] OCTET STRING content }, [0] certificates { cert }?,
//     signerInfos { SignerInfo { version 1, issuerAndSerialNumber, digest,
//       [0] signedAttrs (DER: sorted by encoding), rsaEncryption NULL, signature } } } }
// with the attributes given, contentType, messageDigest and signingTime. The signature
// is PKCS#1 v1.5 over the signedAttrs, as CMS_SignerInfo_sign makes it, so the bytes
// are CMS_final's (cms_sign_test.cpp holds them together).
Result<std::string> sign_data_der(std::string_view content, const SignSpec& spec,
                                  const std::vector<Attribute>& attributes) {
  constexpr unsigned char kSet = 0x31, kOctetString = 0x04, kImplicit0 = 0xA0;
  const EVP_MD* md = evp_md(spec.digest);
  const std::string& digest_alg = digest_algorithm_der(spec.digest);
  if (digest_alg.empty()) return fail(internal_error("encoding the digest algorithm"));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(content.data(), content.size(), digest, &digest_len, md, nullptr) != 1) {
    return fail(pki::last_error("digesting the content"));
  }
  static const std::string kData = oid_der(NID_pkcs7_data);
  static const std::string kContentType = oid_der(NID_pkcs9_contentType);
  static const std::string kMessageDigest = oid_der(NID_pkcs9_messageDigest);
  static const std::string kSigningTime = oid_der(NID_pkcs9_signingTime);
  static const std::string kSignedData = oid_der(NID_pkcs7_signed);

  std::vector<std::string> attrs;
  attrs.reserve(attributes.size() + 3);
  for (const Attribute& a : attributes) {
    if (a.type < 0 || a.type > 30) return fail(invalid_argument("unsupported attribute type"));
    attrs.push_back(
        attribute_der(object_der(a.obj), tlv(static_cast<unsigned char>(a.type), a.value)));
  }
  attrs.push_back(attribute_der(kContentType, kData));
  attrs.push_back(attribute_der(
      kMessageDigest, tlv(kOctetString, bytes_of(digest, static_cast<std::size_t>(digest_len)))));
  const std::time_t when = spec.signing_time.value_or(std::time(nullptr));
  char time_tlv[pki::der::kMaxTimeSize];
  const std::size_t time_len = pki::der::put_time(TimePoint(std::chrono::seconds(when)), time_tlv);
  if (time_len == 0) return fail(invalid_argument("signingTime out of range"));
  attrs.push_back(attribute_der(kSigningTime, std::string_view(time_tlv, time_len)));
  std::sort(attrs.begin(), attrs.end());
  std::string signed_attrs;
  for (const std::string& a : attrs) signed_attrs += a;
  std::string to_sign = tlv(kSet, signed_attrs);

  pki::Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  std::size_t sig_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, spec.key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size()) != 1) {
    return fail(pki::last_error("signing"));
  }
  std::string signature(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size()) != 1) {
    return fail(pki::last_error("signing"));
  }
  signature.resize(sig_len);

  ASSIGN_OR_RETURN(PeerCert signer, PeerCert::from_x509(spec.cert));
  std::string si("\x02\x01\x01", 3);
  si += signer.issuer_and_serial;
  si += digest_alg;
  to_sign[0] = static_cast<char>(kImplicit0);
  si += to_sign;
  si += rsa_encryption_der();
  pki::der::append_framed(si, kOctetString, signature);

  std::string sd("\x02\x01\x01", 3);
  sd += tlv(kSet, digest_alg);
  sd += tlv(pki::der::kSequence, kData + tlv(kImplicit0, tlv(kOctetString, content)));
  if (spec.include_cert) sd += tlv(kImplicit0, signer.der);
  sd += tlv(kSet, tlv(pki::der::kSequence, si));
  return tlv(pki::der::kSequence, kSignedData + tlv(kImplicit0, tlv(pki::der::kSequence, sd)));
}

}  // namespace

Result<std::string> envelope(std::string_view content, const PeerCert& recipient,
                             CipherAlg cipher) {
  if (!recipient || EVP_PKEY_get_base_id(recipient.key.get()) != EVP_PKEY_RSA) {
    return fail(invalid_argument("the recipient certificate has no RSA key"));
  }
  RETURN_IF_ERROR(cipher_ready(cipher));
  return envelope_rsa(content, recipient.issuer_and_serial, recipient.key.get(), cipher);
}

Result<std::string> envelope(std::string_view content, X509* recipient, CipherAlg cipher,
                             bool ber) {
  if (recipient == nullptr) return fail(invalid_argument("no recipient certificate"));
  RETURN_IF_ERROR(cipher_ready(cipher));
  EVP_PKEY* recipient_key = X509_get0_pubkey(recipient);
  if (!ber && recipient_key != nullptr && EVP_PKEY_get_base_id(recipient_key) == EVP_PKEY_RSA) {
    ASSIGN_OR_RETURN(PeerCert peer, PeerCert::from_x509(recipient));
    return envelope(content, peer, cipher);
  }
  ERR_clear_error();
  X509Stack recipients(sk_X509_new_null());
  if (!recipients) return fail(pki::last_error("sk_X509_new_null"));
  pki::Ptr<X509> ref = pki::up_ref(recipient);
  if (sk_X509_push(recipients.get(), ref.get()) <= 0) return fail(pki::last_error("sk_X509_push"));
  ref.release();  // the stack owns it now

  ASSIGN_OR_RETURN(pki::Ptr<BIO> in, read_bio(content));
  const unsigned flags = CMS_BINARY | (ber ? CMS_STREAM : 0);
  pki::Ptr<CMS_ContentInfo> cms(CMS_encrypt(recipients.get(), in.get(), evp_cipher(cipher), flags));
  if (!cms) return fail(pki::last_error("encrypting the pkcsPKIEnvelope"));
  if (!ber) return cms_der(cms.get());
  pki::Ptr<BIO> out(BIO_new(BIO_s_mem()));
  if (!out || i2d_CMS_bio_stream(out.get(), cms.get(), in.get(), flags) != 1) {
    return fail(pki::last_error("encrypting the pkcsPKIEnvelope (streaming)"));
  }
  return bio_bytes(out.get());
}

Result<std::string> sign_data(std::string_view content, const SignSpec& spec,
                              const std::vector<Attribute>& attributes) {
  if (spec.cert == nullptr || spec.key == nullptr) {
    return fail(invalid_argument("signing needs a certificate and its key"));
  }
  if (!spec.ber && !spec.through_cms && EVP_PKEY_get_base_id(spec.key) == EVP_PKEY_RSA) {
    return sign_data_der(content, spec, attributes);
  }
  return sign_data_cms(content, spec, attributes);
}

Result<std::string> degenerate_der(const std::vector<std::string_view>& certs,
                                   const std::vector<std::string_view>& crls) {
  // ContentInfo { signedData, [0] SignedData { version 1, digestAlgorithms {},
  // encapContentInfo { data } (no content: detached), [0] certificates, [1] crls,
  // signerInfos {} } }, as i2d_PKCS7 writes it: the certificates and CRLs in the order
  // given (PKCS#7 encodes them as SEQUENCE OF), each kept byte for byte.
  static constexpr std::string_view kSignedDataOid("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02",
                                                   11);
  static constexpr std::string_view kHead(
      "\x02\x01\x01"                                           // version 1
      "\x31\x00"                                               // digestAlgorithms
      "\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01",  // data, detached
      18);
  static constexpr std::string_view kNoSigners("\x31\x00", 2);
  const auto one_tlv = [](std::string_view der, const char* what) -> Status {
    std::string_view in = der;
    pki::der::Tlv t;
    if (pki::der::next_tlv(in, t) != nullptr || !in.empty() || t.tag != V_ASN1_SEQUENCE ||
        t.cls != V_ASN1_UNIVERSAL) {
      return invalid_argument(fmt::format("the {} is not one DER SEQUENCE", what));
    }
    return ok_status();
  };
  std::string cert_content;
  for (std::string_view c : certs) {
    RETURN_IF_ERROR(one_tlv(c, "certificate"));
    cert_content.append(c);
  }
  std::string crl_content;
  for (std::string_view c : crls) {
    RETURN_IF_ERROR(one_tlv(c, "CRL"));
    crl_content.append(c);
  }
  std::string signed_data(kHead);
  if (!certs.empty()) pki::der::append_framed(signed_data, 0xA0, cert_content);
  if (!crls.empty()) pki::der::append_framed(signed_data, 0xA1, crl_content);
  signed_data.append(kNoSigners);
  std::string framed;
  pki::der::append_framed(framed, pki::der::kSequence, signed_data);
  std::string info(kSignedDataOid);
  pki::der::append_framed(info, pki::der::kContext0, framed);
  std::string out;
  pki::der::append_framed(out, pki::der::kSequence, info);
  return out;
}

Result<std::string> degenerate(const std::vector<X509*>& certs,
                               const std::vector<X509_CRL*>& crls) {
  std::vector<std::string> cert_ders;
  std::vector<std::string> crl_ders;
  for (X509* cert : certs) {
    if (cert == nullptr) return fail(invalid_argument("null certificate"));
    cert_ders.push_back(pki::to_der(i2d_X509, cert));
    if (cert_ders.back().empty()) return fail(pki::last_error("encoding a certificate"));
  }
  for (X509_CRL* crl : crls) {
    if (crl == nullptr) return fail(invalid_argument("null CRL"));
    crl_ders.push_back(pki::to_der(i2d_X509_CRL, crl));
    if (crl_ders.back().empty()) return fail(pki::last_error("encoding a CRL"));
  }
  return degenerate_der(std::vector<std::string_view>(cert_ders.begin(), cert_ders.end()),
                        std::vector<std::string_view>(crl_ders.begin(), crl_ders.end()));
}
}  // namespace scepter::scep::detail
