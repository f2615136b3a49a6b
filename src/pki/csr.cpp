#include "pki/csr.h"

#include <climits>

#include <openssl/err.h>

#include "pki/encoding.h"
#include "pki/io.h"

namespace scepter::pki {

struct Csr::State {
  Ptr<X509_REQ> req;
  std::string der;
  Key key;
  std::vector<Ptr<X509_EXTENSION>> extensions;
  std::optional<std::string> challenge;
};

namespace {

Result<std::vector<Ptr<X509_EXTENSION>>> extract_extensions(X509_REQ* req) {
  std::vector<Ptr<X509_EXTENSION>> out;
  const bool present = X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) >= 0 ||
                       X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, -1) >= 0;
  Ptr<STACK_OF(X509_EXTENSION)> exts(X509_REQ_get_extensions(req));
  if (!exts) {
    if (present) return fail(last_error(Code::kInvalidArgument, "malformed extension request"));
    ERR_clear_error();
    return out;
  }
  while (sk_X509_EXTENSION_num(exts.get()) > 0) {
    out.emplace_back(sk_X509_EXTENSION_shift(exts.get()));
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    for (std::size_t j = i + 1; j < out.size(); ++j) {
      if (OBJ_cmp(X509_EXTENSION_get_object(out[i].get()),
                  X509_EXTENSION_get_object(out[j].get())) == 0) {
        return fail(invalid_argument("the request asks for the same extension twice"));
      }
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
  ASSIGN_OR_RETURN(std::string der, decode_any(data, "CERTIFICATE REQUEST"));
  if (der.size() > LONG_MAX) return fail(invalid_argument("request too large"));
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
  auto key = Key::from_evp(std::move(pkey));
  if (!key) return fail(invalid_argument("unusable public key in the request"));
  ASSIGN_OR_RETURN(auto extensions, extract_extensions(req.get()));
  ASSIGN_OR_RETURN(auto challenge, extract_challenge(req.get()));
  auto state = std::make_shared<State>(State{std::move(req), std::move(der), std::move(*key),
                                             std::move(extensions), std::move(challenge)});
  return Csr(std::move(state));
}

Status Csr::verify_signature() const {
  const int rc = X509_REQ_verify(x509_req(), state_->key.evp());
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

Result<Csr> make_csr(const CsrSpec& spec) {
  if (!spec.key.has_private()) return fail(invalid_argument("the key has no private part"));
  if (spec.subject == nullptr) return fail(invalid_argument("no subject"));
  Ptr<X509_REQ> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(req.get(), spec.subject) != 1 ||
      X509_REQ_set_pubkey(req.get(), spec.key.evp()) != 1) {
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
