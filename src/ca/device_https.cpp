// Device: the identity of the HTTPS listener (`ip http secure-server`) — a trustpoint's
// certificate (`ip http secure-trustpoint`) or one the local CA issues to the device.

#include <fmt/format.h>

#include "ca/device.h"
#include "common/log.h"

namespace scepter::ca {

Device::HttpsNames Device::https_names() const {
  HttpsNames names;
  names.dns.push_back(fqdn());
  const std::string host = hostname();
  if (host != names.dns.front()) names.dns.push_back(host);
  names.ip = {"127.0.0.1", "::1"};
  const std::string bound = http().bind_address;
  if (!bound.empty() && bound != "0.0.0.0" && bound != "::" && bound != "127.0.0.1" &&
      bound != "::1") {
    names.ip.push_back(bound);
  }
  return names;
}

Result<Device::HttpsIdentity> Device::https_identity() {
  const std::string tp_name = http().secure_trustpoint;
  if (!tp_name.empty()) {
    std::optional<EnrollmentState> state = enrollment().state(tp_name);
    if (!state || !state->certificate) {
      return fail(unavailable(fmt::format("trustpoint {} has no certificate", tp_name)));
    }
    ASSIGN_OR_RETURN(pki::Key cert_key, state->certificate->public_key());
    for (const KeyEntry& entry : keys().list()) {
      if (entry.encryption_key || !entry.key.has_private()) continue;
      if (!entry.key.equals_public(cert_key)) continue;
      HttpsIdentity id{{*state->certificate}, entry.key, tp_name};
      if (state->ca) {
        id.chain.insert(id.chain.end(), state->ca->ca_chain.begin(), state->ca->ca_chain.end());
      }
      return id;
    }
    return fail(unavailable(
        fmt::format("the key of trustpoint {}'s certificate is not in the key store", tp_name)));
  }
  std::shared_ptr<CertificateServer> issuer;
  for (const auto& server : servers()) {  // by label
    if (server->state() != ServerState::kEnabled) continue;
    if (is_ra_mode(server->config())) continue;
    issuer = server;
    break;
  }
  if (!issuer) {
    return fail(unavailable(
        "no enabled certificate server to issue its certificate (or ip http secure-trustpoint)"));
  }
  std::optional<KeyEntry> entry = keys().get(kHttpsKeyLabel);
  if (!entry) {
    ASSIGN_OR_RETURN(pki::Key made, pki::Key::generate_ec(256));
    KeyEntry fresh{kHttpsKeyLabel, std::move(made), KeyUsage::kGeneralPurpose, false, clock_.now()};
    RETURN_IF_ERROR(keys().put(fresh));
    log::info("HTTPS server: generated the ECDSA P-256 key {}", kHttpsKeyLabel);
    entry = std::move(fresh);
  }
  if (entry->encryption_key || !entry->key.has_private()) {
    return fail(
        unavailable(fmt::format("key {} cannot sign: {}", kHttpsKeyLabel,
                                entry->device_error.empty() ? "usage keys" : entry->device_error)));
  }
  const HttpsNames names = https_names();
  ASSIGN_OR_RETURN(pki::Certificate cert,
                   issuer->https_certificate(entry->key, names.dns, names.ip, fqdn()));
  ASSIGN_OR_RETURN(std::vector<pki::Certificate> chain, issuer->ca_chain());
  HttpsIdentity id{{std::move(cert)}, entry->key, ""};
  id.chain.insert(id.chain.end(), chain.begin(), chain.end());
  return id;
}

}  // namespace scepter::ca
