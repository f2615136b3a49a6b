#include "pki/certificate.h"

#include <climits>
#include <mutex>

#include <openssl/err.h>

#include "pki/asn1_time.h"
#include "pki/crl_der.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/io.h"

namespace scepter::pki {

// A certificate parsed at once (from_der) or, for one this process built itself
// (from_own_der), when something first asks for more than its DER.
struct Certificate::State {
  std::string der;
  mutable std::once_flag parse_once;
  mutable Ptr<X509> x509;
  mutable TimePoint not_before{};
  mutable TimePoint not_after{};
};

namespace {

// The X509 and validity of `der`, or why not.
Status parse_into(std::string_view der, Ptr<X509>& x509, TimePoint& not_before,
                  TimePoint& not_after) {
  if (der.empty()) return invalid_argument("empty certificate");
  if (der.size() > LONG_MAX) return invalid_argument("certificate too large");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Ptr<X509> parsed(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!parsed) return last_error(Code::kInvalidArgument, "not a DER certificate");
  if (p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    return invalid_argument("trailing bytes after the certificate");
  }
  auto nb = from_asn1_time(X509_get0_notBefore(parsed.get()));
  auto na = from_asn1_time(X509_get0_notAfter(parsed.get()));
  if (!nb || !na) return invalid_argument("certificate has a malformed validity time");
  x509 = std::move(parsed);
  not_before = *nb;
  not_after = *na;
  return ok_status();
}

}  // namespace

const Certificate::State& Certificate::parsed() const {
  std::call_once(state_->parse_once, [this] {
    if (state_->x509) return;  // parsed when made
    const Status s = parse_into(state_->der, state_->x509, state_->not_before, state_->not_after);
    // Only our own signed output is parsed late, and issuer_der_test.cpp holds it to
    // OpenSSL's encoder: failing here is a bug, not bad input.
    CA_ASSERT(s.ok(), "a certificate this process built does not parse");
  });
  return *state_;
}

Certificate Certificate::from_own_der(std::string der) {
  auto state = std::make_shared<State>();
  state->der = std::move(der);
  return Certificate(std::move(state));
}

Result<Certificate> Certificate::from_der(std::string_view der) {
  auto state = std::make_shared<State>();
  RETURN_IF_ERROR(parse_into(der, state->x509, state->not_before, state->not_after));
  state->der = std::string(der);
  return Certificate(std::move(state));
}

Result<Certificate> Certificate::from_pem(std::string_view pem) {
  ASSIGN_OR_RETURN(const std::string der, pem_decode(pem, "CERTIFICATE"));
  return from_der(der);
}

Result<Certificate> Certificate::from_x509(Ptr<X509> x509) {
  if (!x509) return fail(invalid_argument("no certificate"));
  const std::string der = to_der(i2d_X509, x509.get());
  if (der.empty()) return fail(last_error(Code::kInvalidArgument, "cannot encode certificate"));
  // Parse the encoding again rather than keep `x509`: one we just built holds the
  // signer's EVP_PKEY (private part included) as its public key, and the copy must not.
  return from_der(der);
}

const std::string& Certificate::der() const { return state_->der; }
std::string Certificate::pem() const { return pem_encode("CERTIFICATE", state_->der); }
X509* Certificate::x509() const { return parsed().x509.get(); }

Result<SerialNumber> Certificate::serial() const {
  return SerialNumber::from_asn1(X509_get0_serialNumber(x509()));
}

std::string Certificate::serial_hex() const {
  Ptr<BIGNUM> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509()), nullptr));
  if (!bn) return "?";
  OpenSslBuf<char> hex(BN_bn2hex(bn.get()));
  if (!hex) return "?";
  std::string_view s(hex.get());
  std::string sign;
  if (!s.empty() && s.front() == '-') {
    sign = "-";
    s.remove_prefix(1);
  }
  while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
  return sign + std::string(s.empty() ? "0" : s);
}

const X509_NAME* Certificate::subject() const { return X509_get_subject_name(x509()); }
const X509_NAME* Certificate::issuer() const { return X509_get_issuer_name(x509()); }
TimePoint Certificate::not_before() const { return parsed().not_before; }
TimePoint Certificate::not_after() const { return parsed().not_after; }

std::string Certificate::md5_fingerprint() const { return md5_hex(state_->der); }
std::string Certificate::sha1_fingerprint() const {
  return hex_upper(digest(Hash::kSha1, state_->der));
}

std::string Certificate::subject_key_id() const {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(x509());
  return ski ? std::string(string_bytes(ski)) : std::string();
}

std::string Certificate::authority_key_id() const {
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(x509());
  return aki ? std::string(string_bytes(aki)) : std::string();
}

namespace {

// The SubjectPublicKeyInfo TLV of a certificate d2i_X509 accepted, or empty.
std::string_view spki_of(std::string_view cert) {
  der::Tlv t;
  if (der::next_tlv(cert, t) != nullptr) return {};  // Certificate
  std::string_view in = t.content;
  if (der::next_tlv(in, t) != nullptr) return {};  // TBSCertificate
  in = t.content;
  if (der::next_tlv(in, t) != nullptr) return {};  // [0] version, or serialNumber
  if (t.cls == V_ASN1_CONTEXT_SPECIFIC && der::next_tlv(in, t) != nullptr) return {};
  // signature, issuer, validity, subject, then subjectPublicKeyInfo
  for (int i = 0; i < 5; ++i) {
    if (der::next_tlv(in, t) != nullptr) return {};
  }
  return t.whole;
}

}  // namespace

Result<Key> Certificate::public_key() const {
  // X509_get_pubkey hands out the key d2i_X509 already decoded.
  Ptr<EVP_PKEY> pkey(X509_get_pubkey(x509()));
  if (!pkey) return fail(last_error(Code::kInvalidArgument, "unsupported public key"));
  return Key::from_decoded(std::move(pkey), spki_of(state_->der));
}

bool Certificate::is_ca() const { return (X509_get_extension_flags(x509()) & EXFLAG_CA) != 0; }

bool Certificate::verify_signature(const Key& issuer_key) const {
  const bool ok = X509_verify(x509(), issuer_key.evp()) == 1;
  ERR_clear_error();
  return ok;
}

bool Certificate::signed_by(const Certificate& issuer) const {
  if (X509_check_issued(issuer.x509(), x509()) != X509_V_OK) return false;
  auto key = issuer.public_key();
  return key && verify_signature(*key);
}

}  // namespace scepter::pki
