#include "scep/cms_util.h"

#include <climits>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>

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

Result<std::string> sign_data(std::string_view content, const SignSpec& spec,
                              const std::vector<Attribute>& attributes) {
  if (spec.cert == nullptr || spec.key == nullptr) {
    return fail(invalid_argument("signing needs a certificate and its key"));
  }
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

Result<std::string> envelope(std::string_view content, X509* recipient, CipherAlg cipher,
                             bool ber) {
  if (recipient == nullptr) return fail(invalid_argument("no recipient certificate"));
  RETURN_IF_ERROR(cipher_ready(cipher));
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

Result<std::string> degenerate(const std::vector<X509*>& certs,
                               const std::vector<X509_CRL*>& crls) {
  pki::Ptr<PKCS7> p7(PKCS7_new());
  if (!p7 || PKCS7_set_type(p7.get(), NID_pkcs7_signed) != 1 ||
      PKCS7_content_new(p7.get(), NID_pkcs7_data) != 1) {
    return fail(pki::last_error("building a certs-only SignedData"));
  }
  // Degenerate means no content at all, not an empty OCTET STRING.
  if (PKCS7_set_detached(p7.get(), 1) != 1) return fail(pki::last_error("PKCS7_set_detached"));
  for (X509* cert : certs) {
    if (cert == nullptr) return fail(invalid_argument("null certificate"));
    if (PKCS7_add_certificate(p7.get(), cert) != 1) {
      return fail(pki::last_error("PKCS7_add_certificate"));
    }
  }
  for (X509_CRL* crl : crls) {
    if (crl == nullptr) return fail(invalid_argument("null CRL"));
    if (PKCS7_add_crl(p7.get(), crl) != 1) return fail(pki::last_error("PKCS7_add_crl"));
  }
  int len = i2d_PKCS7(p7.get(), nullptr);
  if (len <= 0) return fail(pki::last_error("encoding the certs-only SignedData"));
  std::string out(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (i2d_PKCS7(p7.get(), &p) != len) {
    return fail(pki::last_error("encoding the certs-only SignedData"));
  }
  return out;
}

Result<EnvelopeCipher> envelope_cipher(std::string_view der) {
  if (der.empty() || der.size() > LONG_MAX) return fail(invalid_argument("empty EnvelopedData"));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  pki::Ptr<PKCS7> p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  if (!p7 || !PKCS7_type_is_enveloped(p7.get()) || p7->d.enveloped == nullptr ||
      p7->d.enveloped->enc_data == nullptr || p7->d.enveloped->enc_data->algorithm == nullptr) {
    ERR_clear_error();
    return fail(invalid_argument("not a PKCS#7 EnvelopedData"));
  }
  const ASN1_OBJECT* oid = p7->d.enveloped->enc_data->algorithm->algorithm;
  return EnvelopeCipher{cipher_from_nid(OBJ_obj2nid(oid)), oid_text(oid)};
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
