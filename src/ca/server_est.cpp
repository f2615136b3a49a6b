// CertificateServer: what the HTTPS listener and EST need of a certificate server — the
// listener's own certificate, the CA certificates clients are to trust, and who a
// client is.

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/server_runtime.h"

namespace scepter::ca {

Result<pki::Certificate> CertificateServer::https_certificate(
    const pki::Key& key, const std::vector<std::string>& dns_names,
    const std::vector<std::string>& ip_addresses, const std::string& node) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  if (rt->forwarder || !rt->issuer) {
    return fail(unavailable("certificate server " + label_ + " is an RA: it issues nothing"));
  }
  const ServiceNames names{dns_names, ip_addresses, std::string(kMetaHttpsServerCert) + ":" + node};
  // Serialised with other issuing by this server's own certificates: the stored one is
  // read, checked and replaced in one step.
  MutexLock lock(rt->request_mu);
  return service_certificate(*rt, config(), key, kHttpsServerCert, nullptr, &names);
}

Result<std::vector<pki::Certificate>> CertificateServer::ca_chain() const {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  std::vector<pki::Certificate> chain;
  // An RA's own certificate is not a CA's: its clients trust the issuing CA's chain.
  if (!rt->forwarder) chain.push_back(*rt->ca_cert);
  chain.insert(chain.end(), rt->upper_chain.begin(), rt->upper_chain.end());
  if (chain.empty()) return fail(unavailable("certificate server " + label_ + " has no CA chain"));
  return chain;
}

Result<Signer> CertificateServer::classify_client(std::string_view der,
                                                  std::optional<pki::Certificate>& cert) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  return classify_signer(*rt, der, cert);
}

bool CertificateServer::one_time_password_matches(std::string_view password) const {
  auto rt = runtime();
  return rt && rt->otp->matches(password);
}

}  // namespace scepter::ca
