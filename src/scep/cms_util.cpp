#include "scep/cms_util.h"

#include <algorithm>
#include <climits>
#include <memory>
#include <utility>

#include <openssl/asn1t.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

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
