#include "scep/cms_util.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <memory>
#include <utility>

#include <openssl/asn1t.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include "pki/crl_der.h"
#include "pki/io.h"

namespace scepter::scep::detail {
namespace {

// Looks up the single attribute of type `obj` and its single value.
const ASN1_TYPE* single_value(CMS_SignerInfo* si, const ASN1_OBJECT* obj) {
  int idx = CMS_signed_get_attr_by_OBJ(si, obj, -1);
  if (idx < 0) return nullptr;
  if (CMS_signed_get_attr_by_OBJ(si, obj, idx) >= 0) return nullptr;  // repeated
  X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, idx);
  if (attr == nullptr || X509_ATTRIBUTE_count(attr) != 1) return nullptr;
  return X509_ATTRIBUTE_get0_type(attr, 0);
}

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
// needed stays opaque (ANY). OpenSSL's template decoder accepts BER as well as DER.
// The template macros end without a semicolon, which clang-format cannot lay out.
// clang-format off
struct ScepKtri {  // KeyTransRecipientInfo
  ASN1_INTEGER* version;
  ASN1_TYPE* rid;  // IssuerAndSerialNumber or [0] SubjectKeyIdentifier
  X509_ALGOR* key_encryption_algorithm;
  ASN1_OCTET_STRING* encrypted_key;
};
ASN1_SEQUENCE(ScepKtri) = {
  ASN1_SIMPLE(ScepKtri, version, ASN1_INTEGER),
  ASN1_SIMPLE(ScepKtri, rid, ASN1_ANY),
  ASN1_SIMPLE(ScepKtri, key_encryption_algorithm, X509_ALGOR),
  ASN1_SIMPLE(ScepKtri, encrypted_key, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(ScepKtri)

struct ScepEncryptedContentInfo {
  ASN1_OBJECT* content_type;
  X509_ALGOR* algorithm;
  ASN1_OCTET_STRING* content;  // [0] IMPLICIT, optional
};
ASN1_SEQUENCE(ScepEncryptedContentInfo) = {
  ASN1_SIMPLE(ScepEncryptedContentInfo, content_type, ASN1_OBJECT),
  ASN1_SIMPLE(ScepEncryptedContentInfo, algorithm, X509_ALGOR),
  ASN1_IMP_OPT(ScepEncryptedContentInfo, content, ASN1_OCTET_STRING, 0),
} static_ASN1_SEQUENCE_END(ScepEncryptedContentInfo)

struct ScepEnvelopedData {
  ASN1_INTEGER* version;
  STACK_OF(ASN1_TYPE)* originator_info;  // [0] IMPLICIT, optional
  STACK_OF(ASN1_TYPE)* recipient_infos;
  ScepEncryptedContentInfo* encrypted_content_info;
  STACK_OF(ASN1_TYPE)* unprotected_attrs;  // [1] IMPLICIT, optional
};
ASN1_SEQUENCE(ScepEnvelopedData) = {
  ASN1_SIMPLE(ScepEnvelopedData, version, ASN1_INTEGER),
  ASN1_IMP_SEQUENCE_OF_OPT(ScepEnvelopedData, originator_info, ASN1_ANY, 0),
  ASN1_SET_OF(ScepEnvelopedData, recipient_infos, ASN1_ANY),
  ASN1_SIMPLE(ScepEnvelopedData, encrypted_content_info, ScepEncryptedContentInfo),
  ASN1_IMP_SET_OF_OPT(ScepEnvelopedData, unprotected_attrs, ASN1_ANY, 1),
} static_ASN1_SEQUENCE_END(ScepEnvelopedData)

struct ScepEnvelopeInfo {  // ContentInfo
  ASN1_OBJECT* content_type;
  ScepEnvelopedData* enveloped;  // [0] EXPLICIT
};
ASN1_SEQUENCE(ScepEnvelopeInfo) = {
  ASN1_SIMPLE(ScepEnvelopeInfo, content_type, ASN1_OBJECT),
  ASN1_EXP(ScepEnvelopeInfo, enveloped, ScepEnvelopedData, 0),
} static_ASN1_SEQUENCE_END(ScepEnvelopeInfo)
    // clang-format on

    template <class T>
    struct ItemFree;
template <>
struct ItemFree<ScepKtri> {
  void operator()(ScepKtri* p) const {
    ASN1_item_free(reinterpret_cast<ASN1_VALUE*>(p), ASN1_ITEM_rptr(ScepKtri));
  }
};
template <>
struct ItemFree<ScepEnvelopeInfo> {
  void operator()(ScepEnvelopeInfo* p) const {
    ASN1_item_free(reinterpret_cast<ASN1_VALUE*>(p), ASN1_ITEM_rptr(ScepEnvelopeInfo));
  }
};

}  // namespace

std::string_view view(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  const unsigned char* data = ASN1_STRING_get0_data(s);
  int len = ASN1_STRING_length(s);
  if (data == nullptr || len <= 0) return {};
  return {reinterpret_cast<const char*>(data), static_cast<size_t>(len)};
}

Result<pki::Ptr<BIO>> read_bio(std::string_view bytes) {
  if (bytes.size() > INT_MAX) return fail(invalid_argument("input too large"));
  pki::Ptr<BIO> bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
  if (!bio) return fail(pki::last_error("BIO_new_mem_buf"));
  return bio;
}

std::string bio_bytes(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<size_t>(len));
}

Result<pki::Ptr<CMS_ContentInfo>> parse_cms(std::string_view der) {
  if (der.empty()) return fail(invalid_argument("empty CMS message"));
  if (der.size() > LONG_MAX) return fail(invalid_argument("CMS message too large"));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  pki::Ptr<CMS_ContentInfo> cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  if (!cms) return fail(pki::last_error(Code::kInvalidArgument, "not a CMS ContentInfo"));
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return fail(invalid_argument("trailing bytes after the CMS ContentInfo"));
  }
  return cms;
}

Result<std::string> cms_der(CMS_ContentInfo* cms) {
  int len = i2d_CMS_ContentInfo(cms, nullptr);
  if (len <= 0) return fail(pki::last_error("encoding CMS"));
  std::string out(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (i2d_CMS_ContentInfo(cms, &p) != len) return fail(pki::last_error("encoding CMS"));
  return out;
}

namespace {

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
  constexpr std::string_view kNull("\x05\x00", 2);
  std::string ktri(kVersion0);
  ktri += rid;
  append_framed(ktri, pki::der::kSequence, oid_der(NID_rsaEncryption) + std::string(kNull));
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
// are CMS_final's (cms_util_test.cpp holds them together).
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
  static const std::string kRsaNull =
      tlv(pki::der::kSequence, oid_der(NID_rsaEncryption) + std::string("\x05\x00", 2));

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
  si += kRsaNull;
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

Result<EnvelopeCipher> envelope_cipher(std::string_view der) {
  ASSIGN_OR_RETURN(EnvelopeLayout layout, envelope_layout(der));
  return std::move(layout.cipher);
}

Result<EnvelopeLayout> envelope_layout(std::string_view der) {
  if (der.empty() || der.size() > LONG_MAX) return fail(invalid_argument("empty EnvelopedData"));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ScepEnvelopeInfo, ItemFree<ScepEnvelopeInfo>> info(
      reinterpret_cast<ScepEnvelopeInfo*>(ASN1_item_d2i(nullptr, &p, static_cast<long>(der.size()),
                                                        ASN1_ITEM_rptr(ScepEnvelopeInfo))));
  if (!info || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size() ||
      OBJ_obj2nid(info->content_type) != NID_pkcs7_enveloped) {
    ERR_clear_error();
    return fail(invalid_argument("not an EnvelopedData"));
  }
  const ScepEnvelopedData& env = *info->enveloped;
  EnvelopeLayout out;
  const ASN1_OBJECT* oid = env.encrypted_content_info->algorithm->algorithm;
  out.cipher = EnvelopeCipher{cipher_from_nid(OBJ_obj2nid(oid)), oid_text(oid)};
  const int count = sk_ASN1_TYPE_num(env.recipient_infos);
  out.recipient_count = count > 0 ? static_cast<std::size_t>(count) : 0;
  if (count <= 0 || out.recipient_count > kMaxLaidOutRecipients) return out;
  std::vector<std::size_t> sizes;
  for (int i = 0; i < count; ++i) {
    // RecipientInfo ::= CHOICE { ktri KeyTransRecipientInfo (SEQUENCE), kari [1], kekri
    // [2], pwri [3], ori [4] }: only the untagged SEQUENCE is key transport.
    const ASN1_TYPE* ri = sk_ASN1_TYPE_value(env.recipient_infos, i);
    if (ri == nullptr || ri->type != V_ASN1_SEQUENCE) return out;
    const std::string_view ktri_der = view(ri->value.sequence);
    if (ktri_der.empty()) return out;
    const auto* q = reinterpret_cast<const unsigned char*>(ktri_der.data());
    std::unique_ptr<ScepKtri, ItemFree<ScepKtri>> ktri(reinterpret_cast<ScepKtri*>(
        ASN1_item_d2i(nullptr, &q, static_cast<long>(ktri_der.size()), ASN1_ITEM_rptr(ScepKtri))));
    if (!ktri || q != reinterpret_cast<const unsigned char*>(ktri_der.data()) + ktri_der.size()) {
      ERR_clear_error();
      return out;
    }
    sizes.push_back(static_cast<std::size_t>(ASN1_STRING_length(ktri->encrypted_key)));
  }
  out.encrypted_key_sizes = std::move(sizes);
  return out;
}

std::string printable_text(std::string_view text, std::size_t max) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  const std::size_t n = std::min(text.size(), max);
  out.reserve(n + 8);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  if (text.size() > max) out += "...";
  return out;
}

Result<std::string> random_bytes(size_t n) {
  std::string out(n, '\0');
  if (n > INT_MAX ||
      RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return fail(pki::last_error("RAND_bytes"));
  }
  return out;
}

std::optional<std::string> string_attr(CMS_SignerInfo* si, const AttributeType& attr) {
  const ASN1_TYPE* t = single_value(si, attr.obj);
  if (t == nullptr) return std::nullopt;
  switch (t->type) {
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_UTF8STRING:
    case V_ASN1_IA5STRING:
    case V_ASN1_T61STRING:
      return std::string(view(t->value.asn1_string));
    default:
      return std::nullopt;
  }
}

std::optional<std::string> octet_attr(CMS_SignerInfo* si, const AttributeType& attr) {
  const ASN1_TYPE* t = single_value(si, attr.obj);
  if (t == nullptr || t->type != V_ASN1_OCTET_STRING) return std::nullopt;
  return std::string(view(t->value.octet_string));
}

std::optional<std::time_t> signing_time(CMS_SignerInfo* si) {
  const ASN1_TYPE* t = single_value(si, OBJ_nid2obj(NID_pkcs9_signingTime));
  if (t == nullptr || (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME)) {
    return std::nullopt;
  }
  struct tm tm {};
  if (ASN1_TIME_to_tm(t->value.utctime, &tm) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return timegm(&tm);
}

Status cipher_ready(CipherAlg cipher) {
  if (cipher == CipherAlg::kDesCbc && !des_available()) {
    return invalid_argument(
        "DES-CBC needs OpenSSL's legacy provider (legacy.so), which is not installed");
  }
  return ok_status();
}

std::string oid_text(const ASN1_OBJECT* obj) {
  if (obj == nullptr) return "(none)";
  char buf[128];
  int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  if (n <= 0) {
    ERR_clear_error();
    return "(unprintable OID)";
  }
  return std::string(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

}  // namespace scepter::scep::detail
