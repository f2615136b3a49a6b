#include "pki/csr.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <mutex>

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "pki/crl_der.h"
#include "pki/encoding.h"
#include "pki/io.h"

namespace scepter::pki {

// A parsed request keeps its DER and the pieces read from it. OpenSSL's X509_REQ is
// made only when something asks for it (x509_req()): d2i_X509_REQ decodes the public
// key through OpenSSL 3.0's decoder framework, which costs a third of an RSA-2048
// signature, while the key is read here from its numbers (Key::from_public_der).
struct Csr::State {
  std::string der;
  // Offsets into der: the CertificationRequestInfo TLV (the signed bytes), the
  // SubjectPublicKeyInfo TLV, and the signature BIT STRING TLV (its unused-bits octet is
  // checked where the signature is verified).
  std::size_t info_at = 0, info_len = 0;
  std::size_t spki_at = 0, spki_len = 0;
  std::size_t signature_at = 0, signature_len = 0;
  Ptr<X509_NAME> subject;
  Ptr<X509_ALGOR> signature_algorithm;
  Key key;
  std::vector<Ptr<X509_EXTENSION>> extensions;
  std::optional<std::string> challenge;
  // The answer of verify_signature() once known (a request does not change): 0 not yet
  // checked, 1 verifies, 2 does not.
  mutable std::atomic<int> self_signed{0};
  mutable std::once_flag req_once;
  mutable Ptr<X509_REQ> req;

  explicit State(Key k) : key(std::move(k)) {}
  std::string_view view(std::size_t at, std::size_t len) const {
    return std::string_view(der).substr(at, len);
  }
};

namespace {

bool is_universal(const der::Tlv& t, int tag) { return t.cls == V_ASN1_UNIVERSAL && t.tag == tag; }

// The pieces of a DER CertificationRequest (RFC 2986), as views into it.
struct RequestParts {
  std::string_view info;                 // CertificationRequestInfo TLV: the signed bytes
  std::string_view version;              // INTEGER TLV
  std::string_view subject;              // Name TLV
  std::string_view spki;                 // SubjectPublicKeyInfo TLV
  std::string_view attributes;           // the Attribute TLVs inside [0]; empty when none
  std::string_view signature_algorithm;  // AlgorithmIdentifier TLV
  std::string_view signature;            // BIT STRING TLV
};

// Walks the outer structure only (every length DER, every TLV inside its parent, nothing
// trailing): no value is decoded. The attributes field is optional, as OpenSSL reads it
// (some software omits it).
bool split_request(std::string_view der, RequestParts& out) {
  der::Tlv request;
  der::Tlv info;
  der::Tlv t;
  if (der::next_tlv(der, request) != nullptr || !der.empty() ||
      !is_universal(request, V_ASN1_SEQUENCE) || !request.constructed) {
    return false;
  }
  std::string_view body = request.content;
  if (der::next_tlv(body, info) != nullptr || !is_universal(info, V_ASN1_SEQUENCE) ||
      !info.constructed) {
    return false;
  }
  out.info = info.whole;
  std::string_view fields = info.content;
  if (der::next_tlv(fields, t) != nullptr || !is_universal(t, V_ASN1_INTEGER)) return false;
  out.version = t.whole;
  if (der::next_tlv(fields, t) != nullptr || !is_universal(t, V_ASN1_SEQUENCE)) return false;
  out.subject = t.whole;
  if (der::next_tlv(fields, t) != nullptr || !is_universal(t, V_ASN1_SEQUENCE)) return false;
  out.spki = t.whole;
  out.attributes = {};
  if (!fields.empty()) {
    if (der::next_tlv(fields, t) != nullptr || t.cls != V_ASN1_CONTEXT_SPECIFIC || t.tag != 0 ||
        !t.constructed || !fields.empty()) {
      return false;
    }
    out.attributes = t.content;
  }
  if (der::next_tlv(body, t) != nullptr || !is_universal(t, V_ASN1_SEQUENCE)) return false;
  out.signature_algorithm = t.whole;
  if (der::next_tlv(body, t) != nullptr || !is_universal(t, V_ASN1_BIT_STRING) || !body.empty()) {
    return false;
  }
  out.signature = t.whole;
  return true;
}

// d2i of a whole TLV: null unless OpenSSL reads exactly these bytes.
template <class T>
Ptr<T> decode_exact(T* (*d2i)(T**, const unsigned char**, long), std::string_view tlv) {
  const auto* p = reinterpret_cast<const unsigned char*>(tlv.data());
  Ptr<T> out(d2i(nullptr, &p, static_cast<long>(tlv.size())));
  if (!out || p != reinterpret_cast<const unsigned char*>(tlv.data() + tlv.size())) {
    ERR_clear_error();
    return nullptr;
  }
  return out;
}

// A non-negative DER INTEGER's digits without their leading zero bytes; false if negative
// or empty.
bool unsigned_magnitude(const der::Tlv& t, std::string_view& digits) {
  if (!is_universal(t, V_ASN1_INTEGER) || t.content.empty() ||
      (static_cast<unsigned char>(t.content[0]) & 0x80) != 0) {
    return false;
  }
  digits = t.content;
  while (!digits.empty() && digits.front() == 0) digits.remove_prefix(1);
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
// BIT STRING's contents without any RSA arithmetic.
Status check_rsa_key(std::string_view bits) {
  const Status malformed = invalid_argument("the request's RSA public key is malformed");
  if (bits.empty() || bits[0] != 0) return malformed;  // unused-bits octet
  bits.remove_prefix(1);
  der::Tlv seq;
  der::Tlv n;
  der::Tlv e;
  if (der::next_tlv(bits, seq) != nullptr || !is_universal(seq, V_ASN1_SEQUENCE)) {
    return malformed;
  }
  std::string_view ints = seq.content;
  if (der::next_tlv(ints, n) != nullptr || der::next_tlv(ints, e) != nullptr) return malformed;
  std::string_view digits;
  if (!unsigned_magnitude(n, digits) || digits.empty()) return malformed;
  std::size_t modulus_bits = (digits.size() - 1) * 8;
  for (unsigned top = static_cast<unsigned char>(digits[0]); top != 0; top >>= 1) ++modulus_bits;
  if (modulus_bits > static_cast<std::size_t>(kMaxRsaBits)) {
    return invalid_argument(fmt::format(
        "the request's RSA key has {} bits; at most {} are accepted (the largest IOS key)",
        modulus_bits, kMaxRsaBits));
  }
  const Status bad_exponent = invalid_argument(
      "the request's RSA public exponent is not accepted: it must be odd, greater than 1 and "
      "below 2^32 (65537 is usual)");
  if (!unsigned_magnitude(e, digits) || digits.size() > 4) return bad_exponent;
  std::uint32_t exponent = 0;
  for (char d : digits) exponent = (exponent << 8) | static_cast<unsigned char>(d);
  if (exponent <= 1 || exponent % 2 == 0) return bad_exponent;
  return ok_status();
}

// RSA and EC on the named NIST curves only, checked on the encoding before the key is
// decoded: explicit curve parameters never reach OpenSSL's EC code and an oversized RSA
// key or exponent never reaches a verification.
Status check_public_key(std::string_view spki_der) {
  const Status malformed = invalid_argument("the request's public key is malformed");
  der::Tlv spki;
  der::Tlv alg;
  der::Tlv bits;
  if (der::next_tlv(spki_der, spki) != nullptr) return malformed;
  std::string_view body = spki.content;
  if (der::next_tlv(body, alg) != nullptr || !is_universal(alg, V_ASN1_SEQUENCE)) return malformed;
  Ptr<X509_ALGOR> algor = decode_exact(d2i_X509_ALGOR, alg.whole);
  if (!algor) return malformed;
  if (der::next_tlv(body, bits) != nullptr || !is_universal(bits, V_ASN1_BIT_STRING) ||
      !body.empty()) {
    return malformed;
  }
  const ASN1_OBJECT* oid = nullptr;
  int param_type = 0;
  const void* param = nullptr;
  X509_ALGOR_get0(&oid, &param_type, &param, algor.get());
  switch (OBJ_obj2nid(oid)) {
    case NID_rsaEncryption:
      return check_rsa_key(bits.content);
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
  std::string_view value = string_bytes(X509_EXTENSION_get_data(ext));
  der::Tlv seq;
  if (der::next_tlv(value, seq) != nullptr || !is_universal(seq, V_ASN1_SEQUENCE) ||
      !value.empty()) {
    return malformed;
  }
  std::string_view names_der = seq.content;
  std::size_t count = 0;
  for (der::Tlv name; !names_der.empty(); ++count) {
    if (der::next_tlv(names_der, name) != nullptr) return malformed;
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

using Attributes = std::vector<Ptr<X509_ATTRIBUTE>>;

// The request's attributes, each decoded by OpenSSL from its own TLV.
Result<Attributes> decode_attributes(std::string_view in) {
  Attributes out;
  while (!in.empty()) {
    der::Tlv t;
    if (der::next_tlv(in, t) != nullptr || !is_universal(t, V_ASN1_SEQUENCE)) {
      return fail(invalid_argument("not a PKCS#10 certificate request (malformed attributes)"));
    }
    Ptr<X509_ATTRIBUTE> attr = decode_exact(d2i_X509_ATTRIBUTE, t.whole);
    if (!attr) {
      return fail(invalid_argument("not a PKCS#10 certificate request (malformed attribute)"));
    }
    out.push_back(std::move(attr));
  }
  return out;
}

int attribute_nid(const Ptr<X509_ATTRIBUTE>& attr) {
  return OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr.get()));
}

Result<std::vector<Ptr<X509_EXTENSION>>> extract_extensions(const Attributes& attrs) {
  std::vector<Ptr<X509_EXTENSION>> out;
  // OpenSSL reads only the first extension request attribute and its first value: a
  // second one would be ignored silently, so it is refused.
  X509_ATTRIBUTE* request = nullptr;
  for (const auto& attr : attrs) {
    const int nid = attribute_nid(attr);
    if (nid != NID_ext_req && nid != NID_ms_ext_req) continue;
    if (request != nullptr || X509_ATTRIBUTE_count(attr.get()) != 1) {
      return fail(invalid_argument("the request carries more than one extension request"));
    }
    request = attr.get();
  }
  if (request == nullptr) return out;
  // As X509_REQ_get_extensions reads it: a SEQUENCE of Extension.
  const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(request, 0);
  Ptr<STACK_OF(X509_EXTENSION)> exts;
  if (value != nullptr && value->type == V_ASN1_SEQUENCE) {
    const std::string_view seq = string_bytes(value->value.sequence);
    exts = decode_exact(d2i_X509_EXTENSIONS, seq);
  }
  if (!exts) return fail(invalid_argument("malformed extension request"));
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

// The first challengePassword attribute, as X509_REQ_get_attr_by_NID finds it.
Result<std::optional<std::string>> extract_challenge(const Attributes& attrs) {
  const auto it = std::find_if(attrs.begin(), attrs.end(), [](const Ptr<X509_ATTRIBUTE>& a) {
    return attribute_nid(a) == NID_pkcs9_challengePassword;
  });
  if (it == attrs.end()) return std::optional<std::string>();
  X509_ATTRIBUTE* attr = it->get();
  ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attr, 0);
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

// The message digest of a signature algorithm that verify_signature_with() checks itself
// for `key`: PKCS#1 v1.5 with an RSA key, ECDSA with an EC key. Null for others
// (RSASSA-PSS, a mismatched key type), which X509_REQ_verify judges.
const EVP_MD* plain_signature_digest(const X509_ALGOR* alg, const Key& key) {
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
  int md_nid = NID_undef;
  int pkey_nid = NID_undef;
  if (OBJ_find_sigid_algs(OBJ_obj2nid(oid), &md_nid, &pkey_nid) != 1 || md_nid == NID_undef) {
    return nullptr;
  }
  const bool matches = (pkey_nid == NID_rsaEncryption && key.is_rsa()) ||
                       (pkey_nid == NID_X9_62_id_ecPublicKey && key.is_ec());
  return matches ? EVP_get_digestbynid(md_nid) : nullptr;
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
  RequestParts parts;
  if (!split_request(der, parts)) {
    return fail(invalid_argument("not a PKCS#10 certificate request (malformed DER)"));
  }
  RETURN_IF_ERROR(check_public_key(parts.spki));
  auto key = Key::from_public_der(parts.spki);
  if (!key) return fail(invalid_argument("unsupported public key in the request"));
  // The encoding was checked above; this guards against OpenSSL reading it differently.
  if (!(key->is_rsa() && key->bits() <= kMaxRsaBits) && !key->is_ec()) {
    return fail(
        invalid_argument(std::string("unsupported public key in the request; ") + kKeyAdvice));
  }
  auto state = std::make_shared<State>(std::move(*key));
  // The values OpenSSL's d2i_X509_REQ would decode, each with its own d2i.
  Ptr<ASN1_STRING> version = decode_exact(d2i_ASN1_INTEGER, parts.version);
  state->subject = decode_exact(d2i_X509_NAME, parts.subject);
  state->signature_algorithm = decode_exact(d2i_X509_ALGOR, parts.signature_algorithm);
  Ptr<ASN1_STRING> signature = decode_exact(d2i_ASN1_BIT_STRING, parts.signature);
  if (!version || !state->subject || !state->signature_algorithm || !signature) {
    return fail(invalid_argument("not a PKCS#10 certificate request"));
  }
  ASSIGN_OR_RETURN(Attributes attrs, decode_attributes(parts.attributes));
  ASSIGN_OR_RETURN(state->extensions, extract_extensions(attrs));
  ASSIGN_OR_RETURN(state->challenge, extract_challenge(attrs));
  const auto offset = [&](std::string_view v) {
    return static_cast<std::size_t>(v.data() - der.data());
  };
  state->info_at = offset(parts.info);
  state->info_len = parts.info.size();
  state->spki_at = offset(parts.spki);
  state->spki_len = parts.spki.size();
  state->signature_at = offset(parts.signature);
  state->signature_len = parts.signature.size();
  state->der = std::move(der);
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
  const Status refused = invalid_argument("the certificate request's signature does not verify");
  const EVP_MD* md = plain_signature_digest(state_->signature_algorithm.get(), key);
  if (md == nullptr) {
    // Not one of the two plain schemes: OpenSSL's own verification reads the parameters.
    X509_REQ* req = x509_req();
    const int rc = req != nullptr ? X509_REQ_verify(req, key.evp()) : 0;
    ERR_clear_error();
    return rc == 1 ? ok_status() : refused;
  }
  // What ASN1_item_verify does for these: the signature over the
  // CertificationRequestInfo as received, with no unused bits in the BIT STRING.
  der::Tlv bits;
  std::string_view signature = state_->view(state_->signature_at, state_->signature_len);
  if (der::next_tlv(signature, bits) != nullptr || bits.content.empty() || bits.content[0] != 0) {
    return refused;
  }
  const std::string_view sig = bits.content.substr(1);
  const std::string_view info = state_->view(state_->info_at, state_->info_len);
  Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.evp()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(info.data()), info.size()) == 1;
  ERR_clear_error();
  return ok ? ok_status() : refused;
}

const std::string& Csr::der() const { return state_->der; }
std::string Csr::pem() const { return pem_encode("CERTIFICATE REQUEST", state_->der); }
const X509_NAME* Csr::subject() const { return state_->subject.get(); }
const std::vector<Ptr<X509_EXTENSION>>& Csr::requested_extensions() const {
  return state_->extensions;
}
const std::optional<std::string>& Csr::challenge_password() const { return state_->challenge; }
const Key& Csr::public_key() const { return state_->key; }

namespace {
// The index of attribute `oid` in `req` (-1: none), and through `second` whether it
// comes again.
int attribute_index(X509_REQ* req, const char* oid, bool* second = nullptr) {
  Ptr<ASN1_OBJECT> obj(OBJ_txt2obj(oid, 1));
  if (!obj || req == nullptr) {
    ERR_clear_error();
    return -1;
  }
  const int at = X509_REQ_get_attr_by_OBJ(req, obj.get(), -1);
  if (second != nullptr) *second = at >= 0 && X509_REQ_get_attr_by_OBJ(req, obj.get(), at) >= 0;
  return at;
}
}  // namespace

bool Csr::has_attribute(const char* oid) const { return attribute_index(x509_req(), oid) >= 0; }

std::optional<std::string> Csr::octet_attribute(const char* oid) const {
  X509_REQ* req = x509_req();
  bool repeated = false;
  const int at = attribute_index(req, oid, &repeated);
  if (at < 0 || repeated) return std::nullopt;
  X509_ATTRIBUTE* attr = X509_REQ_get_attr(req, at);
  if (attr == nullptr || X509_ATTRIBUTE_count(attr) != 1) return std::nullopt;
  const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attr, 0);
  if (value == nullptr || value->type != V_ASN1_OCTET_STRING) return std::nullopt;
  return std::string(string_bytes(value->value.octet_string));
}
int Csr::key_bits() const { return state_->key.bits(); }
std::string Csr::md5_fingerprint() const { return md5_hex(state_->der); }

X509_REQ* Csr::x509_req() const {
  std::call_once(state_->req_once, [this] {
    const auto* p = reinterpret_cast<const unsigned char*>(state_->der.data());
    state_->req.reset(d2i_X509_REQ(nullptr, &p, static_cast<long>(state_->der.size())));
    ERR_clear_error();
  });
  return state_->req.get();
}

std::string Csr::spki_md5_hex() const {
  return md5_hex(state_->view(state_->spki_at, state_->spki_len));
}

bool may_request_extensions(std::string_view der) {
  static constexpr std::string_view kExtReq("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x0e", 11);
  static constexpr std::string_view kMsExtReq("\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x01\x0e",
                                              12);
  RequestParts parts;
  if (!split_request(der, parts)) return true;  // not walkable: let the parser judge
  std::string_view attrs = parts.attributes;
  while (!attrs.empty()) {
    der::Tlv attr;
    der::Tlv oid;
    if (der::next_tlv(attrs, attr) != nullptr || !is_universal(attr, V_ASN1_SEQUENCE)) return true;
    std::string_view fields = attr.content;
    if (der::next_tlv(fields, oid) != nullptr || !is_universal(oid, V_ASN1_OBJECT)) return true;
    if (oid.whole == kExtReq || oid.whole == kMsExtReq) return true;
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
  for (const auto& [oid, value] : spec.octet_attributes) {
    Ptr<ASN1_OBJECT> obj(OBJ_txt2obj(oid.c_str(), 1));
    if (!obj || value.size() > INT_MAX ||
        X509_REQ_add1_attr_by_OBJ(req.get(), obj.get(), V_ASN1_OCTET_STRING,
                                  reinterpret_cast<const unsigned char*>(value.data()),
                                  static_cast<int>(value.size())) != 1) {
      return fail(last_error(Code::kInvalidArgument, "adding attribute " + oid));
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
