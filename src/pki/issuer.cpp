#include "pki/issuer.h"

#include <climits>
#include <vector>

#include <openssl/err.h>

#include "pki/crl_der.h"
#include "pki/der_signer.h"
#include "pki/identity.h"
#include "pki/io.h"

namespace scepter::pki {
namespace {

// keyUsage bit numbers (RFC 5280 4.2.1.3).
constexpr int kDigitalSignature = 0;
constexpr int kKeyEncipherment = 2;
constexpr int kKeyCertSign = 5;
constexpr int kCrlSign = 6;

Ptr<ASN1_OCTET_STRING> octet_string(std::string_view bytes) {
  Ptr<ASN1_OCTET_STRING> s(ASN1_OCTET_STRING_new());
  if (!s || ASN1_OCTET_STRING_set(s.get(), reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size())) != 1) {
    return nullptr;
  }
  return s;
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

Result<Ptr<X509_EXTENSION>> ocsp_access_ext(std::string_view url) {
  if (url.size() > INT_MAX) return fail(invalid_argument("OCSP URL too long"));
  ACCESS_DESCRIPTION* ad = ACCESS_DESCRIPTION_new();
  AUTHORITY_INFO_ACCESS* aia = AUTHORITY_INFO_ACCESS_new();
  ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
  const bool built = ad != nullptr && aia != nullptr && ia5 != nullptr &&
                     ASN1_STRING_set(ia5, url.data(), static_cast<int>(url.size())) == 1;
  if (built) {
    ASN1_OBJECT_free(ad->method);
    ad->method = OBJ_nid2obj(NID_ad_OCSP);
    GENERAL_NAME_set0_value(ad->location, GEN_URI, ia5);
    ia5 = nullptr;  // ad owns it
  }
  const bool pushed = built && sk_ACCESS_DESCRIPTION_push(aia, ad) != 0;
  if (pushed) ad = nullptr;  // aia owns it
  Ptr<X509_EXTENSION> ext(pushed ? X509V3_EXT_i2d(NID_info_access, 0, aia) : nullptr);
  ASN1_IA5STRING_free(ia5);
  ACCESS_DESCRIPTION_free(ad);
  AUTHORITY_INFO_ACCESS_free(aia);
  if (!ext) return fail(last_error("encoding authorityInfoAccess"));
  return ext;
}

bool requests_ca(X509_EXTENSION* ext) {
  if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_basic_constraints) return false;
  Ptr<BASIC_CONSTRAINTS> bc(static_cast<BASIC_CONSTRAINTS*>(X509V3_EXT_d2i(ext)));
  ERR_clear_error();
  // An undecodable basicConstraints is treated as a CA request: refuse rather than guess.
  return !bc || bc->ca != 0;
}

// An X.509 v3 certificate built as DER: the TBSCertificate from bytes already encoded
// (names as their X509_NAME encodings, the key as the Key's SubjectPublicKeyInfo, the
// extensions by OpenSSL's i2d), then signed. OpenSSL's X509 object would encode the key
// again and, on the way back, decode it (X509_set_pubkey, then parsing the signed
// certificate to drop the signer's private key it holds): two public-key decodes per
// certificate that this path does not make. The result is parsed only if something asks
// (Certificate::from_own_der).
class CertificateDer {
 public:
  Status add(const X509_EXTENSION* ext) {
    const int n = i2d_X509_EXTENSION(ext, nullptr);
    if (n <= 0) return last_error("encoding an extension");
    const std::size_t at = extensions_.size();
    extensions_.resize(at + static_cast<std::size_t>(n));
    auto* p = reinterpret_cast<unsigned char*>(extensions_.data() + at);
    if (i2d_X509_EXTENSION(ext, &p) != n) return last_error("encoding an extension");
    return ok_status();
  }

  Result<Certificate> sign(const SerialNumber& serial, TimePoint not_before, TimePoint not_after,
                           const X509_NAME* subject, const X509_NAME* issuer,
                           const Key& subject_key, const Key& signer, Hash hash) const {
    if (serial.sequence == 0) return fail(invalid_argument("serial number 0 is not allowed"));
    if (not_after <= not_before) {
      return fail(invalid_argument("the certificate would expire before it becomes valid"));
    }
    if (!signer.has_private()) {
      return fail(invalid_argument("the signing key has no private part"));
    }
    const Status cannot_sign =
        invalid_argument("cannot sign with " + std::string(hash_name(hash)) + " and this key");
    auto started = DerSigner::start(signer.evp(), evp_md(hash), "certificate");
    if (!started.has_value()) return fail(cannot_sign);
    DerSigner& der_signer = *started;
    char validity[2 * der::kMaxTimeSize];
    const std::size_t nb = der::put_time(not_before, validity);
    const std::size_t na = nb == 0 ? 0 : der::put_time(not_after, validity + nb);
    if (na == 0) return fail(invalid_argument("time out of range"));
    const std::string subject_der = to_der(i2d_X509_NAME, subject);
    const std::string issuer_der = to_der(i2d_X509_NAME, issuer);
    if (subject_der.empty() || issuer_der.empty()) return fail(last_error("encoding a name"));
    static constexpr std::string_view kVersion3("\xa0\x03\x02\x01\x02", 5);
    const std::string serial_der = serial.der();
    const std::string& alg = der_signer.algorithm();
    const std::string& spki = subject_key.public_key_der();
    const std::size_t validity_len = der::header_size(nb + na) + nb + na;
    const std::size_t exts_seq = der::header_size(extensions_.size()) + extensions_.size();
    const std::size_t exts_len = extensions_.empty() ? 0 : der::header_size(exts_seq) + exts_seq;
    const std::size_t tbs_content = kVersion3.size() + serial_der.size() + alg.size() +
                                    issuer_der.size() + validity_len + subject_der.size() +
                                    spki.size() + exts_len;
    const std::size_t tbs_len = der::header_size(tbs_content) + tbs_content;
    const std::size_t room = der_signer.outer_room(tbs_len);

    std::string out;
    out.reserve(room + tbs_len);
    out.resize(room);
    char header[der::kMaxHeaderSize];
    out.append(header, der::put_header(der::kSequence, tbs_content, header));
    out.append(kVersion3).append(serial_der).append(alg).append(issuer_der);
    out.append(header, der::put_header(der::kSequence, nb + na, header));
    out.append(validity, nb + na);
    out.append(subject_der).append(spki);
    if (!extensions_.empty()) {
      out.append(header, der::put_header(kContext3, exts_seq, header));
      out.append(header, der::put_header(der::kSequence, extensions_.size(), header));
      out.append(extensions_);
    }
    CA_ASSERT(out.size() == room + tbs_len, "TBSCertificate size");
    auto cert = der_signer.finish(std::move(out), room);
    if (!cert.has_value()) return fail(cannot_sign);
    return Certificate::from_own_der(std::move(*cert));
  }

 private:
  static constexpr unsigned char kContext3 = 0xA3;  // [3] EXPLICIT extensions
  std::string extensions_;                          // the Extension TLVs, in order
};

}  // namespace

std::string key_identifier(const Key& key) {
  // The BIT STRING value inside the SubjectPublicKeyInfo we already hold (its unused-bits
  // octet excluded, as RFC 5280 4.2.1.2 hashes the subjectPublicKey's bits).
  std::string_view in = key.public_key_der();
  der::Tlv spki;
  der::Tlv alg;
  der::Tlv bits;
  if (der::next_tlv(in, spki) != nullptr) return {};
  std::string_view body = spki.content;
  if (der::next_tlv(body, alg) != nullptr || der::next_tlv(body, bits) != nullptr ||
      bits.tag != V_ASN1_BIT_STRING || bits.content.empty()) {
    return {};
  }
  return digest(Hash::kSha1, bits.content.substr(1));
}

Result<Certificate> make_ca_certificate(const CaCertSpec& spec) {
  if (spec.subject == nullptr) return fail(invalid_argument("no subject"));
  const std::string keyid = key_identifier(spec.key);
  if (keyid.empty()) return fail(internal_error("cannot compute the key identifier"));
  ASSIGN_OR_RETURN(auto bc, basic_constraints_ext(true, std::nullopt));
  ASSIGN_OR_RETURN(auto ku, key_usage_ext({kDigitalSignature, kKeyCertSign, kCrlSign}));
  ASSIGN_OR_RETURN(auto aki, authority_key_id_ext(keyid));
  ASSIGN_OR_RETURN(auto ski, subject_key_id_ext(keyid));
  CertificateDer cert;
  for (const auto* ext : {bc.get(), ku.get(), aki.get(), ski.get()}) {
    RETURN_IF_ERROR(cert.add(ext));
  }
  return cert.sign(SerialNumber{spec.serial}, spec.not_before, spec.not_after, spec.subject,
                   spec.subject, spec.key, spec.key, spec.hash);
}

namespace {

// The subjectAltName of a kTlsServer certificate.
Result<Ptr<X509_EXTENSION>> tls_server_names_ext(const ServiceCertSpec& spec) {
  if (spec.dns_names.empty() && spec.ip_addresses.empty()) {
    return fail(invalid_argument("a TLS server certificate needs a name or an address"));
  }
  Ptr<GENERAL_NAMES> names(GENERAL_NAMES_new());
  if (!names) return fail(last_error("allocating subjectAltName"));
  auto push = [&](Ptr<GENERAL_NAME> gen) -> Status {
    if (!gen || sk_GENERAL_NAME_push(names.get(), gen.get()) == 0) {
      return last_error("building subjectAltName");
    }
    gen.release();  // the stack owns it now
    return ok_status();
  };
  for (const std::string& dns : spec.dns_names) {
    Ptr<GENERAL_NAME> gen(GENERAL_NAME_new());
    Ptr<ASN1_IA5STRING> text(ASN1_IA5STRING_new());
    if (!gen || !text ||
        ASN1_STRING_set(text.get(), dns.data(), static_cast<int>(dns.size())) != 1) {
      return fail(last_error("building a dNSName"));
    }
    GENERAL_NAME_set0_value(gen.get(), GEN_DNS, text.release());
    RETURN_IF_ERROR(push(std::move(gen)));
  }
  for (const std::string& ip : spec.ip_addresses) {
    Ptr<ASN1_OCTET_STRING> octets(a2i_IPADDRESS(ip.c_str()));
    if (!octets) {
      ERR_clear_error();
      return fail(invalid_argument("not an IP address: " + ip));
    }
    Ptr<GENERAL_NAME> gen(GENERAL_NAME_new());
    if (!gen) return fail(last_error("building an iPAddress"));
    GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, octets.release());
    RETURN_IF_ERROR(push(std::move(gen)));
  }
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()));
  if (!ext) return fail(last_error("encoding subjectAltName"));
  return ext;
}

}  // namespace

Result<std::vector<std::string>> tls_server_alt_names(const ServiceCertSpec& spec) {
  ASSIGN_OR_RETURN(auto ext, tls_server_names_ext(spec));
  return alt_names_of(ext.get());
}

Result<Certificate> make_service_certificate(const ServiceCertSpec& spec) {
  if (spec.subject == nullptr) return fail(invalid_argument("no subject"));
  const bool ocsp = spec.role == ServiceRole::kOcspSigning;
  const bool tls = spec.role == ServiceRole::kTlsServer;
  if (spec.role == ServiceRole::kScepEncryption && !spec.key.is_rsa()) {
    return fail(invalid_argument("a SCEP encryption key must be RSA"));
  }
  ASSIGN_OR_RETURN(const Key ca_public, spec.ca_cert.public_key());
  if (!ca_public.equals_public(spec.ca_key)) {
    return fail(invalid_argument("the CA key does not match the CA certificate"));
  }
  std::string ca_keyid = spec.ca_cert.subject_key_id();
  if (ca_keyid.empty()) ca_keyid = key_identifier(ca_public);
  const std::string keyid = key_identifier(spec.key);
  if (ca_keyid.empty() || keyid.empty()) {
    return fail(internal_error("cannot compute the key identifier"));
  }
  ASSIGN_OR_RETURN(auto bc, basic_constraints_ext(false, std::nullopt));
  const bool encipher = spec.role == ServiceRole::kScepEncryption || (tls && spec.key.is_rsa());
  ASSIGN_OR_RETURN(auto ku, encipher ? key_usage_ext({kDigitalSignature, kKeyEncipherment})
                                     : key_usage_ext({kDigitalSignature}));
  ASSIGN_OR_RETURN(auto aki, authority_key_id_ext(ca_keyid));
  ASSIGN_OR_RETURN(auto ski, subject_key_id_ext(keyid));
  CertificateDer cert;
  RETURN_IF_ERROR(cert.add(bc.get()));
  RETURN_IF_ERROR(cert.add(ku.get()));
  if (ocsp) {
    Ptr<X509_EXTENSION> eku(
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_ext_key_usage, const_cast<char*>("OCSPSigning")));
    // The value of id-pkix-ocsp-nocheck is NULL; OpenSSL's text form takes any string.
    Ptr<X509_EXTENSION> nocheck(X509V3_EXT_conf_nid(nullptr, nullptr, NID_id_pkix_OCSP_noCheck,
                                                    const_cast<char*>("ignored")));
    if (!eku || !nocheck) return fail(last_error("encoding the OCSP responder extensions"));
    RETURN_IF_ERROR(cert.add(eku.get()));
    RETURN_IF_ERROR(cert.add(nocheck.get()));
  }
  if (tls) {
    Ptr<X509_EXTENSION> eku(
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_ext_key_usage, const_cast<char*>("serverAuth")));
    if (!eku) return fail(last_error("encoding the TLS server extensions"));
    RETURN_IF_ERROR(cert.add(eku.get()));
  }
  RETURN_IF_ERROR(cert.add(aki.get()));
  RETURN_IF_ERROR(cert.add(ski.get()));
  if (tls) {
    ASSIGN_OR_RETURN(auto san, tls_server_names_ext(spec));
    RETURN_IF_ERROR(cert.add(san.get()));
  }
  if (spec.role == ServiceRole::kScepEncryption && !spec.cdp_url.empty()) {
    ASSIGN_OR_RETURN(auto cdp, crl_distribution_point_ext(spec.cdp_url));
    RETURN_IF_ERROR(cert.add(cdp.get()));
  }
  return cert.sign(spec.serial, spec.not_before, spec.not_after, spec.subject,
                   spec.ca_cert.subject(), spec.key, spec.ca_key, spec.hash);
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
  CertificateDer cert;
  ASSIGN_OR_RETURN(const auto profiled, profile_extensions(spec.csr, issue_profile(spec)));
  for (const auto& ext : profiled) RETURN_IF_ERROR(cert.add(ext.get()));
  std::string ca_keyid = spec.ca_cert.subject_key_id();
  if (ca_keyid.empty()) ca_keyid = key_identifier(ca_public);
  if (ca_keyid.empty()) return fail(internal_error("cannot compute the CA key identifier"));
  ASSIGN_OR_RETURN(auto aki, authority_key_id_ext(ca_keyid));
  RETURN_IF_ERROR(cert.add(aki.get()));
  const std::string keyid = key_identifier(spec.csr.public_key());
  if (keyid.empty()) return fail(internal_error("cannot compute the key identifier"));
  ASSIGN_OR_RETURN(auto ski, subject_key_id_ext(keyid));
  RETURN_IF_ERROR(cert.add(ski.get()));
  if (!spec.cdp_url.empty()) {
    ASSIGN_OR_RETURN(auto cdp, crl_distribution_point_ext(spec.cdp_url));
    RETURN_IF_ERROR(cert.add(cdp.get()));
  }
  if (!spec.ocsp_url.empty()) {
    ASSIGN_OR_RETURN(auto aia, ocsp_access_ext(spec.ocsp_url));
    RETURN_IF_ERROR(cert.add(aia.get()));
  }
  return cert.sign(spec.serial, spec.not_before, spec.not_after, spec.csr.subject(),
                   spec.ca_cert.subject(), spec.csr.public_key(), spec.ca_key, spec.hash);
}

bool requests_ca_certificate(const Csr& csr) {
  for (const auto& ext : csr.requested_extensions()) {
    if (requests_ca(ext.get())) return true;
  }
  return false;
}

}  // namespace scepter::pki
