#include "pki/issuer.h"

#include <climits>
#include <vector>

#include <openssl/err.h>

#include "pki/asn1_time.h"
#include "pki/io.h"

namespace scepter::pki {
namespace {

Ptr<ASN1_OCTET_STRING> octet_string(std::string_view bytes) {
  Ptr<ASN1_OCTET_STRING> s(ASN1_OCTET_STRING_new());
  if (!s || ASN1_OCTET_STRING_set(s.get(), reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size())) != 1) {
    return nullptr;
  }
  return s;
}

Result<Ptr<X509_EXTENSION>> basic_constraints_ca() {
  Ptr<BASIC_CONSTRAINTS> bc(BASIC_CONSTRAINTS_new());
  if (!bc) return fail(last_error("allocating basicConstraints"));
  bc->ca = 0xFF;  // DER TRUE; pathlen stays absent
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_basic_constraints, 1, bc.get()));
  if (!ext) return fail(last_error("encoding basicConstraints"));
  return ext;
}

Result<Ptr<X509_EXTENSION>> key_usage_ca() {
  // Bit numbers from RFC 5280 4.2.1.3.
  constexpr int kDigitalSignature = 0;
  constexpr int kKeyCertSign = 5;
  constexpr int kCrlSign = 6;
  Ptr<ASN1_BIT_STRING> ku(ASN1_BIT_STRING_new());
  if (!ku || ASN1_BIT_STRING_set_bit(ku.get(), kDigitalSignature, 1) != 1 ||
      ASN1_BIT_STRING_set_bit(ku.get(), kKeyCertSign, 1) != 1 ||
      ASN1_BIT_STRING_set_bit(ku.get(), kCrlSign, 1) != 1) {
    return fail(last_error("building keyUsage"));
  }
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_key_usage, 1, ku.get()));
  if (!ext) return fail(last_error("encoding keyUsage"));
  return ext;
}

Result<Ptr<X509_EXTENSION>> subject_key_id_ext(std::string_view keyid) {
  Ptr<ASN1_OCTET_STRING> id = octet_string(keyid);
  if (!id) return fail(last_error("building subjectKeyIdentifier"));
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_subject_key_identifier, 0, id.get()));
  if (!ext) return fail(last_error("encoding subjectKeyIdentifier"));
  return ext;
}

Result<Ptr<X509_EXTENSION>> authority_key_id_ext(std::string_view keyid) {
  Ptr<AUTHORITY_KEYID> akid(AUTHORITY_KEYID_new());
  if (!akid) return fail(last_error("allocating authorityKeyIdentifier"));
  akid->keyid = octet_string(keyid).release();
  if (akid->keyid == nullptr) return fail(last_error("building authorityKeyIdentifier"));
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid.get()));
  if (!ext) return fail(last_error("encoding authorityKeyIdentifier"));
  return ext;
}

Result<Ptr<X509_EXTENSION>> crl_distribution_point_ext(std::string_view url) {
  if (url.size() > INT_MAX) return fail(invalid_argument("CDP URL too long"));
  Ptr<GENERAL_NAME> uri(GENERAL_NAME_new());
  Ptr<ASN1_STRING> ia5(ASN1_IA5STRING_new());
  if (!uri || !ia5 || ASN1_STRING_set(ia5.get(), url.data(), static_cast<int>(url.size())) != 1) {
    return fail(last_error("building CDP URI"));
  }
  GENERAL_NAME_set0_value(uri.get(), GEN_URI, ia5.release());
  Ptr<STACK_OF(GENERAL_NAME)> names(GENERAL_NAMES_new());
  if (!names || sk_GENERAL_NAME_push(names.get(), uri.get()) == 0) {
    return fail(last_error("building CDP names"));
  }
  uri.release();  // names owns it
  Ptr<DIST_POINT> dp(DIST_POINT_new());
  if (!dp) return fail(last_error("allocating DistributionPoint"));
  dp->distpoint = DIST_POINT_NAME_new();
  if (dp->distpoint == nullptr) return fail(last_error("allocating DistributionPointName"));
  dp->distpoint->type = 0;  // fullName
  dp->distpoint->name.fullname = names.release();
  Ptr<STACK_OF(DIST_POINT)> cdps(CRL_DIST_POINTS_new());
  if (!cdps || sk_DIST_POINT_push(cdps.get(), dp.get()) == 0) {
    return fail(last_error("building cRLDistributionPoints"));
  }
  dp.release();  // cdps owns it
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_crl_distribution_points, 0, cdps.get()));
  if (!ext) return fail(last_error("encoding cRLDistributionPoints"));
  return ext;
}

bool requests_ca(X509_EXTENSION* ext) {
  if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_basic_constraints) return false;
  Ptr<BASIC_CONSTRAINTS> bc(static_cast<BASIC_CONSTRAINTS*>(X509V3_EXT_d2i(ext)));
  ERR_clear_error();
  // An undecodable basicConstraints is treated as a CA request: refuse rather than guess.
  return !bc || bc->ca != 0;
}

// Serial, validity, names and key of a new certificate.
Result<Ptr<X509>> new_certificate(const SerialNumber& serial, TimePoint not_before,
                                  TimePoint not_after, const X509_NAME* subject,
                                  const X509_NAME* issuer, const Key& key) {
  if (serial.sequence == 0) return fail(invalid_argument("serial number 0 is not allowed"));
  if (not_after <= not_before) {
    return fail(invalid_argument("the certificate would expire before it becomes valid"));
  }
  ASSIGN_OR_RETURN(Ptr<ASN1_TIME> nb, to_asn1_time(not_before));
  ASSIGN_OR_RETURN(Ptr<ASN1_TIME> na, to_asn1_time(not_after));
  const std::string serial_der = serial.der();
  const auto* p = reinterpret_cast<const unsigned char*>(serial_der.data());
  Ptr<ASN1_STRING> serial_value(
      d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(serial_der.size())));
  Ptr<X509> x(X509_new());
  if (!x || !serial_value || X509_set_version(x.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(x.get(), serial_value.get()) != 1 ||
      X509_set_subject_name(x.get(), subject) != 1 || X509_set_issuer_name(x.get(), issuer) != 1 ||
      X509_set1_notBefore(x.get(), nb.get()) != 1 || X509_set1_notAfter(x.get(), na.get()) != 1 ||
      X509_set_pubkey(x.get(), key.evp()) != 1) {
    return fail(last_error("building certificate"));
  }
  return x;
}

Status add(X509* x, const X509_EXTENSION* ext) {
  // X509_add_ext copies; -1 appends, keeping our order.
  if (X509_add_ext(x, const_cast<X509_EXTENSION*>(ext), -1) != 1) {
    return last_error("adding extension");
  }
  return ok_status();
}

Result<Certificate> sign(Ptr<X509> x, const Key& key, Hash hash) {
  if (!key.has_private()) return fail(invalid_argument("the signing key has no private part"));
  if (X509_sign(x.get(), key.evp(), evp_md(hash)) <= 0) {
    return fail(last_error(Code::kInvalidArgument,
                           "cannot sign with " + std::string(hash_name(hash)) + " and this key"));
  }
  return Certificate::from_x509(std::move(x));
}

}  // namespace

std::string key_identifier(const Key& key) {
  // The BIT STRING value inside the SubjectPublicKeyInfo we already hold.
  const auto* p = reinterpret_cast<const unsigned char*>(key.public_key_der().data());
  Ptr<X509_PUBKEY> pub(
      d2i_X509_PUBKEY(nullptr, &p, static_cast<long>(key.public_key_der().size())));
  const unsigned char* bits = nullptr;
  int len = 0;
  if (!pub || X509_PUBKEY_get0_param(nullptr, &bits, &len, nullptr, pub.get()) != 1) {
    ERR_clear_error();
    return {};
  }
  return digest(Hash::kSha1, std::string_view(reinterpret_cast<const char*>(bits),
                                              static_cast<std::size_t>(len)));
}

Result<Certificate> make_ca_certificate(const CaCertSpec& spec) {
  if (spec.subject == nullptr) return fail(invalid_argument("no subject"));
  ASSIGN_OR_RETURN(Ptr<X509> x,
                   new_certificate(SerialNumber{spec.serial}, spec.not_before, spec.not_after,
                                   spec.subject, spec.subject, spec.key));
  const std::string keyid = key_identifier(spec.key);
  if (keyid.empty()) return fail(internal_error("cannot compute the key identifier"));
  ASSIGN_OR_RETURN(auto bc, basic_constraints_ca());
  ASSIGN_OR_RETURN(auto ku, key_usage_ca());
  ASSIGN_OR_RETURN(auto aki, authority_key_id_ext(keyid));
  ASSIGN_OR_RETURN(auto ski, subject_key_id_ext(keyid));
  for (const auto* ext : {bc.get(), ku.get(), aki.get(), ski.get()}) {
    RETURN_IF_ERROR(add(x.get(), ext));
  }
  return sign(std::move(x), spec.key, spec.hash);
}

Profile issue_profile(const IssueSpec& spec) {
  Profile profile{.ca = spec.ca, .extra_ekus = spec.extra_ekus};
  if (!profile.ca && spec.allow_ca && requests_ca_certificate(spec.csr)) {
    profile.ca = CaProfile{};
  }
  return profile;
}

Result<Certificate> issue_certificate(const IssueSpec& spec) {
  RETURN_IF_ERROR(spec.csr_signer ? spec.csr.verify_signature_with(*spec.csr_signer)
                                  : spec.csr.verify_signature());
  ASSIGN_OR_RETURN(const Key ca_public, spec.ca_cert.public_key());
  if (!ca_public.equals_public(spec.ca_key)) {
    return fail(invalid_argument("the CA key does not match the CA certificate"));
  }
  ASSIGN_OR_RETURN(Ptr<X509> x,
                   new_certificate(spec.serial, spec.not_before, spec.not_after, spec.csr.subject(),
                                   spec.ca_cert.subject(), spec.csr.public_key()));
  ASSIGN_OR_RETURN(const auto profiled, profile_extensions(spec.csr, issue_profile(spec)));
  for (const auto& ext : profiled) RETURN_IF_ERROR(add(x.get(), ext.get()));
  std::string ca_keyid = spec.ca_cert.subject_key_id();
  if (ca_keyid.empty()) ca_keyid = key_identifier(ca_public);
  if (ca_keyid.empty()) return fail(internal_error("cannot compute the CA key identifier"));
  ASSIGN_OR_RETURN(auto aki, authority_key_id_ext(ca_keyid));
  RETURN_IF_ERROR(add(x.get(), aki.get()));
  const std::string keyid = key_identifier(spec.csr.public_key());
  if (keyid.empty()) return fail(internal_error("cannot compute the key identifier"));
  ASSIGN_OR_RETURN(auto ski, subject_key_id_ext(keyid));
  RETURN_IF_ERROR(add(x.get(), ski.get()));
  if (!spec.cdp_url.empty()) {
    ASSIGN_OR_RETURN(auto cdp, crl_distribution_point_ext(spec.cdp_url));
    RETURN_IF_ERROR(add(x.get(), cdp.get()));
  }
  return sign(std::move(x), spec.ca_key, spec.hash);
}

bool requests_ca_certificate(const Csr& csr) {
  for (const auto& ext : csr.requested_extensions()) {
    if (requests_ca(ext.get())) return true;
  }
  return false;
}

}  // namespace scepter::pki
