#include "pki/csr.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "pki/encoding.h"
#include "pki/io.h"

namespace scepter::pki {

struct Csr::State {
  State(Ptr<X509_REQ> r, std::string d, Key k, std::vector<Ptr<X509_EXTENSION>> e,
        std::optional<std::string> c)
      : req(std::move(r)),
        der(std::move(d)),
        key(std::move(k)),
        extensions(std::move(e)),
        challenge(std::move(c)) {}

  Ptr<X509_REQ> req;
  std::string der;
  Key key;
  std::vector<Ptr<X509_EXTENSION>> extensions;
  std::optional<std::string> challenge;
  // The answer of verify_signature() once known (a request does not change): 0 not yet
  // checked, 1 verifies, 2 does not.
  mutable std::atomic<int> self_signed{0};
};

namespace {

// One DER TLV, read with ASN1_get_object: definite length only, inside the buffer.
struct Tlv {
  int tag = 0;
  int cls = 0;
  const unsigned char* body = nullptr;
  std::size_t len = 0;
};

bool next_tlv(const unsigned char*& p, const unsigned char* end, Tlv& t) {
  if (p >= end) return false;
  const unsigned char* q = p;
  long len = 0;
  int tag = 0;
  int cls = 0;
  const int rc = ASN1_get_object(&q, &len, &tag, &cls, end - p);
  // 0x80: an error or a length past the end; 0x01: indefinite length (BER, not DER).
  if ((rc & 0x80) != 0 || (rc & 0x01) != 0 || len < 0 || len > end - q) {
    ERR_clear_error();
    return false;
  }
  t = Tlv{tag, cls, q, static_cast<std::size_t>(len)};
  p = q + len;
  return true;
}

bool is_universal(const Tlv& t, int tag) { return t.cls == V_ASN1_UNIVERSAL && t.tag == tag; }

// The SubjectPublicKeyInfo TLV inside a CertificationRequest DER, found by walking the
// outer structure only, so the key can be checked before OpenSSL decodes it.
bool find_spki(std::string_view der, std::string_view& spki) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* end = p + der.size();
  Tlv t;
  if (!next_tlv(p, end, t) || !is_universal(t, V_ASN1_SEQUENCE)) return false;  // request
  p = t.body;
  end = t.body + t.len;
  if (!next_tlv(p, end, t) || !is_universal(t, V_ASN1_SEQUENCE)) return false;  // info
  p = t.body;
  end = t.body + t.len;
  if (!next_tlv(p, end, t) || !is_universal(t, V_ASN1_INTEGER)) return false;   // version
  if (!next_tlv(p, end, t) || !is_universal(t, V_ASN1_SEQUENCE)) return false;  // subject
  const unsigned char* start = p;
  if (!next_tlv(p, end, t) || !is_universal(t, V_ASN1_SEQUENCE)) return false;
  spki =
      std::string_view(reinterpret_cast<const char*>(start), static_cast<std::size_t>(p - start));
  return true;
}

// A non-negative DER INTEGER body without its leading zero bytes; false if negative or empty.
bool unsigned_magnitude(const Tlv& t, const unsigned char*& digits, std::size_t& len) {
  if (!is_universal(t, V_ASN1_INTEGER) || t.len == 0 || (t.body[0] & 0x80) != 0) return false;
  digits = t.body;
  len = t.len;
  while (len > 0 && *digits == 0) {
    ++digits;
    --len;
  }
  return true;
}

std::string object_text(const ASN1_OBJECT* obj) {
  const int nid = OBJ_obj2nid(obj);
  if (nid != NID_undef) return OBJ_nid2sn(nid);
  char buf[80];  // a longer OID is cut short: this is for messages only
  if (OBJ_obj2txt(buf, sizeof buf, obj, 1) <= 0) return "an unknown OID";
  return buf;
}

constexpr char kKeyAdvice[] = "use RSA (up to 4096 bits) or EC on P-256, P-384 or P-521";

// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }, read from the
// BIT STRING without any RSA arithmetic.
Status check_rsa_key(const Tlv& bits) {
  const Status malformed = invalid_argument("the request's RSA public key is malformed");
  if (bits.len < 1 || bits.body[0] != 0) return malformed;  // unused-bits octet
  const unsigned char* p = bits.body + 1;
  const unsigned char* end = bits.body + bits.len;
  Tlv seq;
  Tlv n;
  Tlv e;
  if (!next_tlv(p, end, seq) || !is_universal(seq, V_ASN1_SEQUENCE)) return malformed;
  p = seq.body;
  end = seq.body + seq.len;
  if (!next_tlv(p, end, n) || !next_tlv(p, end, e)) return malformed;
  const unsigned char* digits = nullptr;
  std::size_t len = 0;
  if (!unsigned_magnitude(n, digits, len) || len == 0) return malformed;
  std::size_t modulus_bits = (len - 1) * 8;
  for (unsigned top = digits[0]; top != 0; top >>= 1) ++modulus_bits;
  if (modulus_bits > static_cast<std::size_t>(kMaxRsaBits)) {
    return invalid_argument(fmt::format(
        "the request's RSA key has {} bits; at most {} are accepted (the largest IOS key)",
        modulus_bits, kMaxRsaBits));
  }
  const Status bad_exponent = invalid_argument(
      "the request's RSA public exponent is not accepted: it must be odd, greater than 1 and "
      "below 2^32 (65537 is usual)");
  if (!unsigned_magnitude(e, digits, len) || len > 4) return bad_exponent;
  std::uint32_t exponent = 0;
  for (std::size_t i = 0; i < len; ++i) exponent = (exponent << 8) | digits[i];
  if (exponent <= 1 || exponent % 2 == 0) return bad_exponent;
  return ok_status();
}

// RSA and EC on the named NIST curves only, checked on the encoding before the key is
// decoded: explicit curve parameters never reach OpenSSL's EC code and an oversized RSA
// key or exponent never reaches a verification.
Status check_public_key(std::string_view spki_der) {
  const Status malformed = invalid_argument("the request's public key is malformed");
  const auto* p = reinterpret_cast<const unsigned char*>(spki_der.data());
  const unsigned char* end = p + spki_der.size();
  Tlv spki;
  if (!next_tlv(p, end, spki)) return malformed;
  p = spki.body;
  end = spki.body + spki.len;
  const unsigned char* alg_start = p;
  Tlv alg;
  Tlv bits;
  if (!next_tlv(p, end, alg) || !is_universal(alg, V_ASN1_SEQUENCE)) return malformed;
  const unsigned char* q = alg_start;
  Ptr<X509_ALGOR> algor(d2i_X509_ALGOR(nullptr, &q, p - alg_start));
  if (!algor || q != p) {
    ERR_clear_error();
    return malformed;
  }
  if (!next_tlv(p, end, bits) || !is_universal(bits, V_ASN1_BIT_STRING) || p != end) {
    return malformed;
  }
  const ASN1_OBJECT* oid = nullptr;
  int param_type = 0;
  const void* param = nullptr;
  X509_ALGOR_get0(&oid, &param_type, &param, algor.get());
  switch (OBJ_obj2nid(oid)) {
    case NID_rsaEncryption:
      return check_rsa_key(bits);
    case NID_X9_62_id_ecPublicKey: {
      if (param_type != V_ASN1_OBJECT) {
        return invalid_argument(
            std::string("the request's EC key has explicit curve parameters; ") + kKeyAdvice);
      }
      const auto* curve = static_cast<const ASN1_OBJECT*>(param);
      switch (OBJ_obj2nid(curve)) {
        case NID_X9_62_prime256v1:
        case NID_secp384r1:
        case NID_secp521r1:
          return ok_status();
        default:
          return invalid_argument(fmt::format("the request's EC key is on the curve {}; {}",
                                              object_text(curve), kKeyAdvice));
      }
    }
    default:
      return invalid_argument(
          fmt::format("the request's {} key is not supported; {}", object_text(oid), kKeyAdvice));
  }
}

// Sorting the OIDs keeps the duplicate check O(n log n).
Status check_duplicates(const std::vector<Ptr<X509_EXTENSION>>& exts) {
  std::vector<const ASN1_OBJECT*> oids;
  oids.reserve(exts.size());
  for (const auto& ext : exts) oids.push_back(X509_EXTENSION_get_object(ext.get()));
  std::sort(oids.begin(), oids.end(),
            [](const ASN1_OBJECT* a, const ASN1_OBJECT* b) { return OBJ_cmp(a, b) < 0; });
  const auto dup = std::adjacent_find(
      oids.begin(), oids.end(),
      [](const ASN1_OBJECT* a, const ASN1_OBJECT* b) { return OBJ_cmp(a, b) == 0; });
  if (dup != oids.end()) {
    return invalid_argument(
        fmt::format("the request asks for the extension {} twice", object_text(*dup)));
  }
  return ok_status();
}

// Counts the GeneralNames in the DER before decoding them, then checks they decode.
Status check_subject_alt_name(X509_EXTENSION* ext) {
  const Status malformed = invalid_argument("the request's subjectAltName is malformed");
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
  const unsigned char* p = ASN1_STRING_get0_data(value);
  const unsigned char* end = p + ASN1_STRING_length(value);
  Tlv seq;
  if (!next_tlv(p, end, seq) || !is_universal(seq, V_ASN1_SEQUENCE) || p != end) {
    return malformed;
  }
  p = seq.body;
  end = seq.body + seq.len;
  std::size_t count = 0;
  for (Tlv name; p < end; ++count) {
    if (!next_tlv(p, end, name)) return malformed;
    if (count == kMaxSubjectAltNames) {
      return invalid_argument(fmt::format("the request's subjectAltName has more than {} entries",
                                          kMaxSubjectAltNames));
    }
  }
  Ptr<STACK_OF(GENERAL_NAME)> names(static_cast<STACK_OF(GENERAL_NAME)*>(X509V3_EXT_d2i(ext)));
  if (!names) {
    ERR_clear_error();
    return malformed;
  }
  return ok_status();
}

Result<std::vector<Ptr<X509_EXTENSION>>> extract_extensions(X509_REQ* req) {
  std::vector<Ptr<X509_EXTENSION>> out;
  // OpenSSL reads only the first extension request attribute and its first value: a
  // second one would be ignored silently, so it is refused.
  int requests = 0;
  const int attrs = X509_REQ_get_attr_count(req);
  for (int i = 0; i < attrs; ++i) {
    X509_ATTRIBUTE* attr = X509_REQ_get_attr(req, i);
    const int nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr));
    if (nid != NID_ext_req && nid != NID_ms_ext_req) continue;
    if (++requests > 1 || X509_ATTRIBUTE_count(attr) != 1) {
      return fail(invalid_argument("the request carries more than one extension request"));
    }
  }
  if (requests == 0) return out;
  Ptr<STACK_OF(X509_EXTENSION)> exts(X509_REQ_get_extensions(req));
  if (!exts) return fail(last_error(Code::kInvalidArgument, "malformed extension request"));
  const int count = sk_X509_EXTENSION_num(exts.get());
  if (count > static_cast<int>(kMaxRequestedExtensions)) {
    return fail(
        invalid_argument(fmt::format("the request asks for {} extensions; at most {} are "
                                     "accepted",
                                     count, kMaxRequestedExtensions)));
  }
  out.reserve(static_cast<std::size_t>(count));
  while (sk_X509_EXTENSION_num(exts.get()) > 0) {
    out.emplace_back(sk_X509_EXTENSION_shift(exts.get()));
  }
  RETURN_IF_ERROR(check_duplicates(out));
  for (const auto& ext : out) {
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext.get())) == NID_subject_alt_name) {
      RETURN_IF_ERROR(check_subject_alt_name(ext.get()));
    }
  }
  return out;
}

Result<std::optional<std::string>> extract_challenge(const X509_REQ* req) {
  const int idx = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1);
  if (idx < 0) return std::optional<std::string>();
  X509_ATTRIBUTE* attr = X509_REQ_get_attr(req, idx);
  ASN1_TYPE* value = attr ? X509_ATTRIBUTE_get0_type(attr, 0) : nullptr;
  if (value == nullptr || X509_ATTRIBUTE_count(attr) != 1) {
    return fail(invalid_argument("malformed challengePassword attribute"));
  }
  switch (ASN1_TYPE_get(value)) {
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_UTF8STRING:
    case V_ASN1_IA5STRING:
    case V_ASN1_T61STRING:
    case V_ASN1_BMPSTRING:
    case V_ASN1_UNIVERSALSTRING:
      break;
    default:
      return fail(invalid_argument("challengePassword is not a string"));
  }
  unsigned char* out = nullptr;
  const int len = ASN1_STRING_to_UTF8(&out, value->value.asn1_string);
  OpenSslBuf<unsigned char> owned(out);
  if (len < 0) {
    ERR_clear_error();
    return fail(invalid_argument("challengePassword is not valid text"));
  }
  return std::optional<std::string>(
      std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len)));
}

}  // namespace

Result<Csr> Csr::parse(std::string_view data) {
  // DER starts with a SEQUENCE tag; anything else is PEM or base64 text.
  const bool is_der = !data.empty() && data.front() == 0x30;
  if (!is_der && data.size() > kMaxCsrTextBytes) {
    return fail(invalid_argument(fmt::format(
        "the request text is {} bytes; at most {} are accepted", data.size(), kMaxCsrTextBytes)));
  }
  if (data.size() > kMaxCsrDerBytes && is_der) {
    return fail(invalid_argument(fmt::format("the request is {} bytes; at most {} are accepted",
                                             data.size(), kMaxCsrDerBytes)));
  }
  ASSIGN_OR_RETURN(std::string der, decode_any(data, "CERTIFICATE REQUEST"));
  if (der.size() > kMaxCsrDerBytes) {
    return fail(invalid_argument(fmt::format("the request is {} bytes; at most {} are accepted",
                                             der.size(), kMaxCsrDerBytes)));
  }
  std::string_view spki;
  if (!find_spki(der, spki)) {
    return fail(invalid_argument("not a PKCS#10 certificate request (malformed DER)"));
  }
  RETURN_IF_ERROR(check_public_key(spki));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Ptr<X509_REQ> req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req) return fail(last_error(Code::kInvalidArgument, "not a PKCS#10 certificate request"));
  if (p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    return fail(invalid_argument("trailing bytes after the certificate request"));
  }
  Ptr<EVP_PKEY> pkey(X509_REQ_get_pubkey(req.get()));
  if (!pkey) {
    return fail(last_error(Code::kInvalidArgument, "unsupported public key in the request"));
  }
  auto key = Key::from_decoded(std::move(pkey), spki);
  if (!key) return fail(invalid_argument("unusable public key in the request"));
  // The encoding was checked above; this guards against OpenSSL reading it differently.
  if (!(key->is_rsa() && key->bits() <= kMaxRsaBits) && !key->is_ec()) {
    return fail(
        invalid_argument(std::string("unsupported public key in the request; ") + kKeyAdvice));
  }
  ASSIGN_OR_RETURN(auto extensions, extract_extensions(req.get()));
  ASSIGN_OR_RETURN(auto challenge, extract_challenge(req.get()));
  auto state = std::make_shared<State>(std::move(req), std::move(der), std::move(*key),
                                       std::move(extensions), std::move(challenge));
  return Csr(std::move(state));
}

Status Csr::verify_signature() const {
  int known = state_->self_signed.load(std::memory_order_relaxed);
  if (known == 0) {
    known = verify_signature_with(state_->key).ok() ? 1 : 2;
    state_->self_signed.store(known, std::memory_order_relaxed);
  }
  if (known != 1) return invalid_argument("the certificate request's signature does not verify");
  return ok_status();
}

Status Csr::verify_signature_with(const Key& key) const {
  const int rc = X509_REQ_verify(x509_req(), key.evp());
  ERR_clear_error();
  if (rc != 1) return invalid_argument("the certificate request's signature does not verify");
  return ok_status();
}

const std::string& Csr::der() const { return state_->der; }
std::string Csr::pem() const { return pem_encode("CERTIFICATE REQUEST", state_->der); }
const X509_NAME* Csr::subject() const { return X509_REQ_get_subject_name(x509_req()); }
const std::vector<Ptr<X509_EXTENSION>>& Csr::requested_extensions() const {
  return state_->extensions;
}
const std::optional<std::string>& Csr::challenge_password() const { return state_->challenge; }
const Key& Csr::public_key() const { return state_->key; }
int Csr::key_bits() const { return state_->key.bits(); }
std::string Csr::md5_fingerprint() const { return md5_hex(state_->der); }
X509_REQ* Csr::x509_req() const { return state_->req.get(); }

std::string Csr::spki_md5_hex() const {
  return md5_hex(to_der(i2d_X509_PUBKEY, X509_REQ_get_X509_PUBKEY(x509_req())));
}

bool may_request_extensions(std::string_view der) {
  static constexpr std::string_view kExtReq("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x0e", 11);
  static constexpr std::string_view kMsExtReq("\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x01\x0e",
                                              12);
  std::string_view spki;
  if (!find_spki(der, spki)) return true;  // not walkable: let the parser judge
  const auto* p = reinterpret_cast<const unsigned char*>(spki.data() + spki.size());
  // The CertificationRequestInfo ends where the request's signatureAlgorithm begins;
  // bounding the walk by the whole DER is enough, as each TLV is checked to fit.
  const auto* end = reinterpret_cast<const unsigned char*>(der.data() + der.size());
  Tlv attrs;
  if (!next_tlv(p, end, attrs) || attrs.cls != V_ASN1_CONTEXT_SPECIFIC || attrs.tag != 0) {
    return true;
  }
  p = attrs.body;
  end = attrs.body + attrs.len;
  while (p < end) {
    Tlv attr;
    if (!next_tlv(p, end, attr) || !is_universal(attr, V_ASN1_SEQUENCE)) return true;
    const unsigned char* q = attr.body;
    Tlv oid;
    if (!next_tlv(q, attr.body + attr.len, oid) || !is_universal(oid, V_ASN1_OBJECT)) return true;
    const std::string_view whole(reinterpret_cast<const char*>(attr.body),
                                 static_cast<std::size_t>(oid.body + oid.len - attr.body));
    if (whole == kExtReq || whole == kMsExtReq) return true;
  }
  return false;
}

std::string key_description(const Key& key) {
  if (key.is_rsa()) return fmt::format("RSA {}", key.bits());
  if (key.is_ec()) {
    char group[64] = {};
    if (EVP_PKEY_get_utf8_string_param(key.evp(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       nullptr) != 1) {
      ERR_clear_error();
      return fmt::format("EC {}", key.bits());
    }
    const int nid = OBJ_sn2nid(group);
    const char* nist = nid == NID_undef ? nullptr : EC_curve_nid2nist(nid);
    return fmt::format("EC {}", nist != nullptr ? nist : group);
  }
  const char* type = EVP_PKEY_get0_type_name(key.evp());
  return type != nullptr ? type : "unknown key";
}

Result<Csr> make_csr(const CsrSpec& spec) {
  if (!spec.key.has_private()) return fail(invalid_argument("the key has no private part"));
  if (spec.subject == nullptr) return fail(invalid_argument("no subject"));
  Ptr<X509_REQ> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(req.get(), spec.subject) != 1 ||
      X509_REQ_set_pubkey(req.get(), (spec.subject_key ? spec.subject_key : &spec.key)->evp()) !=
          1) {
    return fail(last_error("building certificate request"));
  }
  if (!spec.challenge_password.empty()) {
    if (spec.challenge_password.size() > INT_MAX) {
      return fail(invalid_argument("challenge password too long"));
    }
    // PrintableString when it fits, as most SCEP clients send it, else UTF8String.
    ASN1_STRING* raw = nullptr;
    if (ASN1_mbstring_copy(&raw,
                           reinterpret_cast<const unsigned char*>(spec.challenge_password.data()),
                           static_cast<int>(spec.challenge_password.size()), MBSTRING_UTF8,
                           B_ASN1_PRINTABLESTRING | B_ASN1_UTF8STRING) < 0) {
      return fail(last_error(Code::kInvalidArgument, "challenge password is not UTF-8"));
    }
    Ptr<ASN1_STRING> str(raw);
    if (X509_REQ_add1_attr_by_NID(req.get(), NID_pkcs9_challengePassword,
                                  ASN1_STRING_type(str.get()), ASN1_STRING_get0_data(str.get()),
                                  ASN1_STRING_length(str.get())) != 1) {
      return fail(last_error("adding challengePassword"));
    }
  }
  if (!spec.extensions.empty()) {
    Ptr<STACK_OF(X509_EXTENSION)> exts(sk_X509_EXTENSION_new_null());
    if (!exts) return fail(last_error("allocating extensions"));
    for (const X509_EXTENSION* ext : spec.extensions) {
      Ptr<X509_EXTENSION> copy(X509_EXTENSION_dup(ext));
      if (!copy || sk_X509_EXTENSION_push(exts.get(), copy.get()) == 0) {
        return fail(last_error("copying extension"));
      }
      copy.release();  // the stack owns it now
    }
    if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) {
      return fail(last_error("adding extension request"));
    }
  }
  if (X509_REQ_sign(req.get(), spec.key.evp(), evp_md(spec.hash)) <= 0) {
    return fail(last_error(Code::kInvalidArgument,
                           "cannot sign the request with " + std::string(hash_name(spec.hash))));
  }
  const std::string der = to_der(i2d_X509_REQ, req.get());
  if (der.empty()) return fail(last_error("encoding certificate request"));
  return Csr::parse(der);
}

}  // namespace scepter::pki
