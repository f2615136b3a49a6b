// The parts of scep/upstream_client.h that read a superior CA's answers without the
// network: GetCACaps and GetCACert bodies, and the roles of the certificates.

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "common/log.h"
#include "common/parse.h"
#include "pki/name.h"
#include "scep/client.h"
#include "scep/upstream_client.h"

namespace scepter::scep {
namespace {

constexpr auto kTrace = log::Category::kPkiTransactions;

bool self_issued(const pki::Certificate& cert) {
  return X509_NAME_cmp(cert.subject(), cert.issuer()) == 0;
}

// keyUsage of an RA certificate: which of the two roles it may take.
struct RaRoles {
  bool sign = false;
  bool encrypt = false;
};
RaRoles ra_roles(const pki::Certificate& cert) {
  if ((X509_get_extension_flags(cert.x509()) & EXFLAG_KUSAGE) == 0) return {true, true};
  const uint32_t usage = X509_get_key_usage(cert.x509());
  return {(usage & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) != 0,
          (usage & KU_KEY_ENCIPHERMENT) != 0};
}

}  // namespace

std::string describe_certificate(const pki::Certificate& cert) {
  return fmt::format("{} (MD5 fingerprint {})", pki::format_dn_ios(cert.subject()),
                     cert.md5_fingerprint());
}

Result<ca::UpstreamCertificates> classify_ca_certificates(std::vector<pki::Certificate> certs) {
  if (certs.empty()) return fail(invalid_argument("GetCACert answer holds no certificate"));
  if (certs.size() > kMaxUpstreamCertificates) {
    return fail(invalid_argument(fmt::format("GetCACert answer holds {} certificates (at most {})",
                                             certs.size(), kMaxUpstreamCertificates)));
  }
  std::vector<pki::Certificate> cas;
  std::vector<pki::Certificate> ras;
  const bool single = certs.size() == 1;
  for (pki::Certificate& cert : certs) {
    const bool v1_root =
        single && self_issued(cert) && (X509_get_extension_flags(cert.x509()) & EXFLAG_BCONS) == 0;
    (cert.is_ca() || v1_root ? cas : ras).push_back(std::move(cert));
  }
  if (cas.empty()) {
    return fail(invalid_argument(fmt::format(
        "GetCACert answer holds no CA certificate (basicConstraints CA:TRUE); {} is not "
        "one",
        describe_certificate(ras.front()))));
  }

  // The issuing CA: the issuer of the RA certificates, else the CA that issued no other.
  std::optional<size_t> issuing;
  if (!ras.empty()) {
    for (const pki::Certificate& ra : ras) {
      std::optional<size_t> by;
      for (size_t i = 0; i < cas.size() && !by; ++i) {
        if (ra.signed_by(cas[i])) by = i;
      }
      if (!by) {
        return fail(invalid_argument(
            fmt::format("GetCACert answer: {} is neither a CA certificate nor issued by one of the "
                        "answer",
                        describe_certificate(ra))));
      }
      if (issuing && *issuing != *by) {
        return fail(invalid_argument(
            fmt::format("GetCACert answer: the RA certificates are issued by two CAs, {} and {}",
                        describe_certificate(cas[*issuing]), describe_certificate(cas[*by]))));
      }
      issuing = by;
    }
  } else {
    std::vector<size_t> bottom;
    for (size_t i = 0; i < cas.size(); ++i) {
      bool issued_another = false;
      for (size_t j = 0; j < cas.size() && !issued_another; ++j) {
        issued_another = j != i && cas[j].signed_by(cas[i]);
      }
      if (!issued_another) bottom.push_back(i);
    }
    if (bottom.size() != 1) {
      std::string names;
      for (size_t i : bottom) names += (names.empty() ? "" : ", ") + describe_certificate(cas[i]);
      return fail(invalid_argument(
          fmt::format("GetCACert answer: cannot tell which CA certificate issues ({}{})",
                      bottom.empty() ? "they all issue one another" : "candidates: ", names)));
    }
    issuing = bottom.front();
  }

  // The chain up from the issuing CA, through the issuers present.
  ca::UpstreamCertificates out;
  std::vector<bool> used(cas.size(), false);
  size_t current = *issuing;
  used[current] = true;
  out.ca_chain.push_back(cas[current]);
  while (!self_issued(cas[current]) || !cas[current].signed_by(cas[current])) {
    std::optional<size_t> parent;
    for (size_t i = 0; i < cas.size() && !parent; ++i) {
      if (!used[i] && cas[current].signed_by(cas[i])) parent = i;
    }
    if (!parent) break;
    current = *parent;
    used[current] = true;
    out.ca_chain.push_back(cas[current]);
  }
  for (size_t i = 0; i < cas.size(); ++i) {
    if (!used[i]) {
      return fail(invalid_argument(fmt::format(
          "GetCACert answer: CA certificate {} is not in the chain of the issuing CA {}",
          describe_certificate(cas[i]), describe_certificate(cas[*issuing]))));
    }
  }

  for (pki::Certificate& ra : ras) {
    const RaRoles roles = ra_roles(ra);
    if (!roles.sign && !roles.encrypt) {
      return fail(invalid_argument(fmt::format(
          "GetCACert answer: RA certificate {} has neither digitalSignature nor keyEncipherment",
          describe_certificate(ra))));
    }
    if (roles.sign && out.ra_signer) {
      return fail(invalid_argument(
          fmt::format("GetCACert answer: two RA certificates for signing, {} and {}",
                      describe_certificate(*out.ra_signer), describe_certificate(ra))));
    }
    if (roles.encrypt && out.ra_encrypter) {
      return fail(invalid_argument(
          fmt::format("GetCACert answer: two RA certificates for encryption, {} and {}",
                      describe_certificate(*out.ra_encrypter), describe_certificate(ra))));
    }
    if (roles.sign) out.ra_signer = ra;
    if (roles.encrypt) out.ra_encrypter = ra;
  }
  return out;
}

ca::UpstreamCaps parse_ca_caps(std::string_view body) {
  ca::UpstreamCaps caps;
  std::string_view rest = body;
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    const std::string_view line = trim_space(rest.substr(0, eol));
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (line.empty()) continue;
    // What is kept is bounded: a hostile answer cannot make the trustpoint's state big.
    if (caps.announced.size() < kMaxAnnouncedCaps) {
      caps.announced.emplace_back(line.substr(0, kMaxCapLength));
    }
    const std::string key = ascii_lower(line);
    if (key == "postpkioperation") {
      caps.post = true;
    } else if (key == "renewal") {
      caps.renewal = true;
    } else if (key == "getnextcacert") {
      caps.get_next_ca_cert = true;
    } else if (key == "aes") {
      caps.aes = true;
    } else if (key == "des3") {
      caps.des3 = true;
    } else if (key == "sha-1" || key == "sha1") {
      caps.sha1 = true;
    } else if (key == "sha-256" || key == "sha256") {
      caps.sha256 = true;
    } else if (key == "sha-512" || key == "sha512") {
      caps.sha512 = true;
    } else if (key == "scepstandard") {
      caps.scep_standard = true;
    }
  }
  return caps;
}

Result<std::vector<pki::Certificate>> read_ca_certificates(std::string_view content_type,
                                                           std::string_view body,
                                                           std::string_view host) {
  std::vector<pki::Certificate> certs;
  if (content_type == "application/x-x509-ca-cert") {
    log::trace(kTrace, "Content-Type indicates we have received a CA certificate.");
    auto cert = pki::Certificate::from_der(body);
    if (!cert.has_value() && body.find("-----BEGIN") != std::string::npos) {
      cert = pki::Certificate::from_pem(body);
    }
    if (!cert.has_value()) {
      return fail(invalid_argument(fmt::format("GetCACert answer from {} is not a certificate: {}",
                                               host, cert.error().message())));
    }
    certs.push_back(std::move(*cert));
  } else if (content_type == "application/x-x509-ca-ra-cert") {
    log::trace(kTrace, "Content-Type indicates we have received CA and RA certificates.");
    auto bundle = decode_certs_only(body);
    if (!bundle.has_value()) {
      return fail(
          invalid_argument(fmt::format("GetCACert answer from {} is not a certs-only PKCS#7: {}",
                                       host, bundle.error().message())));
    }
    if (bundle->certificates.size() > kMaxUpstreamCertificates) {
      return fail(invalid_argument(
          fmt::format("GetCACert answer from {} holds {} certificates (at most {})", host,
                      bundle->certificates.size(), kMaxUpstreamCertificates)));
    }
    for (pki::Ptr<X509>& x : bundle->certificates) {
      auto cert = pki::Certificate::from_x509(std::move(x));
      if (!cert.has_value()) {
        return fail(invalid_argument(
            fmt::format("GetCACert answer from {}: {}", host, cert.error().message())));
      }
      certs.push_back(std::move(*cert));
    }
  } else {
    return fail(invalid_argument(fmt::format(
        "GetCACert answer from {} has Content-Type \"{}\", not application/x-x509-ca-cert or "
        "application/x-x509-ca-ra-cert",
        host, content_type)));
  }
  return certs;
}

}  // namespace scepter::scep
