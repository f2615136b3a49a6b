// TrustpointClient: the CA's rollover as its client sees it — the CA's next certificates
// (GetNextCACert), a certificate server's own rollover enrolment, and the moment both take
// over from the current ones.

#include <fmt/format.h>

#include "ca/device.h"
#include "ca/trustpoint_client.h"
#include "common/log.h"
#include "pki/name.h"

namespace scepter::ca {

Result<UpstreamCertificates> TrustpointClient::fetch_next_ca(const TrustpointConfig& tp,
                                                             const std::string& name,
                                                             const UpstreamCertificates& current) {
  if (!upstream_) return fail(permission_denied("no SCEP client"));
  log::trace(log::Category::kPkiTransactions, "CRYPTO_PKI: sending GetNextCACert for trustpoint {}",
             name);
  auto next = upstream_->get_next_ca_cert(tp.enrollment_url, name, current);
  if (!next.has_value()) {
    log::warn("%PKI-3-GETCARACERT: trustpoint {}: no rollover CA certificate: {}", name,
              next.error().message());
    return next;
  }
  log::info("%PKI-6-CERTRET: trustpoint {}: the CA's rollover certificate {} (valid from {})", name,
            pki::format_dn_ios(next->issuing_ca().subject()),
            format_ios_time(next->issuing_ca().not_before()));
  return next;
}

Result<EnrollResult> TrustpointClient::enroll_rollover(const TrustpointConfig& tp,
                                                       const EnrollOptions& options,
                                                       const std::string& key_label) {
  if (!upstream_) return fail(permission_denied("this scepterd has no SCEP client"));
  const std::string& name = tp.name;
  std::optional<EnrollmentState> state = this->state(name);
  if (!state || !state->ca || !state->certificate) {
    return fail(permission_denied(
        fmt::format("Trustpoint {} has no certificate to roll over: enrol it first.", name)));
  }
  if (state->pending) {
    return fail(permission_denied(fmt::format(
        "A certificate request for trustpoint {} is already waiting for the CA.", name)));
  }
  if (tp.rsakeypair.empty() || tp.rsakeypair == key_label) {
    return fail(invalid_argument(
        fmt::format("Trustpoint {}: the rollover key must differ from the current key.", name)));
  }
  std::optional<KeyEntry> current = keys_.get(tp.rsakeypair);
  auto cert_key = state->certificate->public_key();
  if (!current || !cert_key.has_value() || !current->key.equals_public(*cert_key)) {
    return fail(permission_denied(fmt::format(
        "Trustpoint {}: the key {} of the current certificate is gone.", name, tp.rsakeypair)));
  }
  if (!claim(name)) {
    return fail(permission_denied(
        fmt::format("Trustpoint {} is talking to its CA; try again in a moment.", name)));
  }
  ReleaseOnExit release_guard{this, name};

  std::optional<KeyEntry> key = keys_.get(key_label);
  if (!key) {
    // Keys of the same kind and size as the current ones.
    const int bits = current->key.bits() > 0 ? current->key.bits() : options.key_bits;
    ASSIGN_OR_RETURN(pki::Key fresh, current->key.is_ec() ? pki::Key::generate_ec(bits)
                                                          : pki::Key::generate_rsa(bits));
    KeyEntry entry{key_label, std::move(fresh), KeyUsage::kGeneralPurpose, current->exportable,
                   clock_.now()};
    if (current->encryption_key) {
      const pki::Key& enc = *current->encryption_key;
      ASSIGN_OR_RETURN(pki::Key fresh_enc, enc.is_ec() ? pki::Key::generate_ec(enc.bits())
                                                       : pki::Key::generate_rsa(enc.bits()));
      entry.encryption_key = std::move(fresh_enc);
      entry.usage = KeyUsage::kUsageKeys;
    }
    log::info("% Generating {} bit {} {} for the rollover of trustpoint {} (label {})", bits,
              current->key.is_ec() ? "EC" : "RSA", current->encryption_key ? "usage keys" : "keys",
              name, key_label);
    RETURN_IF_ERROR(keys_.put(entry));
    key = std::move(entry);
  }
  // The identity stays: the subject of the current certificate.
  const X509_NAME* subject = state->certificate->subject();
  if (options.ra_request) RETURN_IF_ERROR(check_ra_subject(subject, name));
  ASSIGN_OR_RETURN(auto owned, request_extensions(options));
  std::vector<const X509_EXTENSION*> exts;
  for (const auto& e : owned) exts.push_back(e.get());
  EnrollmentState::Pending pending;
  ASSIGN_OR_RETURN(pending.parts, make_requests(tp, subject, *key, exts, std::string()));
  pending.key_label = key_label;
  pending.signer_key_label = tp.rsakeypair;
  pending.renewal = true;
  pending.rollover = true;
  log::info("%PKI-6-CERTRENEWAUTO: Requesting the rollover certificate for trustpoint {}", name);
  return submit(tp, std::move(pending));
}

Status TrustpointClient::promote_rollover(const std::string& name) {
  MutexLock lock(mu_);
  auto it = states_.find(name);
  if (it == states_.end()) return ok_status();
  EnrollmentState& s = it->second;
  if (!s.rollover_certificate && !s.next_ca) return ok_status();
  if (s.rollover_certificate) {
    if (!s.rollover_key_label.empty()) {
      // The new key takes the trustpoint's label, unless a certificate server moved it
      // already (its rollover moves its own key).
      std::optional<KeyEntry> waiting = keys_.get(s.rollover_key_label);
      if (waiting) {
        KeyEntry entry = *waiting;
        entry.label = s.rollover_key_target;
        RETURN_IF_ERROR(keys_.put(entry));
        RETURN_IF_ERROR(keys_.remove(s.rollover_key_label));
      }
    }
    if (s.next_ca && s.rollover_certificate->signed_by(s.next_ca->issuing_ca())) {
      s.ca = std::move(s.next_ca);
    }
    s.certificate = std::move(s.rollover_certificate);
    s.encryption_certificate = std::move(s.rollover_encryption_certificate);
    s.revoked_at.reset();
    s.crl_checked = TimePoint{};
  } else {
    // The CA rolled over and this trustpoint had no certificate to roll with it.
    s.ca = std::move(s.next_ca);
  }
  s.next_ca.reset();
  s.rollover_certificate.reset();
  s.rollover_encryption_certificate.reset();
  s.rollover_key_label.clear();
  s.rollover_key_target.clear();
  log::info("%PKI-6-CERT_ROLLOVER_ACTIVE: trustpoint {}: the rollover certificate is now active",
            name);
  return save(name, s);
}

Status TrustpointClient::cancel_rollover(const std::string& name) {
  MutexLock lock(mu_);
  auto it = states_.find(name);
  if (it == states_.end()) return ok_status();
  EnrollmentState& s = it->second;
  const bool pending = s.pending && s.pending->rollover;
  if (!pending && !s.rollover_certificate) return ok_status();
  if (pending) s.pending.reset();
  s.rollover_certificate.reset();
  s.rollover_encryption_certificate.reset();
  s.rollover_key_label.clear();
  s.rollover_key_target.clear();
  return save(name, s);
}

}  // namespace scepter::ca
