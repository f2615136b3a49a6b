// CertificateServer: generating the CA at the first `no shutdown`, and the CRL: revoke and
// unrevoke.

#include <algorithm>

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/server_runtime.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/parse.h"
#include "pki/encoding.h"
#include "pki/identity.h"
#include "pki/issuer.h"
#include "pki/name.h"
#include "pki/pkcs12.h"

namespace scepter::ca {
namespace {

// IOS clients do not accept CA certificates that expire after 2049 (UTCTime).
constexpr std::int64_t kLastUtcTime = 2524607999;  // 2049-12-31T23:59:59Z

// The OCSP responder certificate's renewal after a failure: the first wait, and the longest.
constexpr std::chrono::seconds kOcspRenewalRetry{60};
constexpr std::chrono::seconds kOcspRenewalMaxRetry{3600};

// What revoke and unrevoke act on: a certificate of the database, by its whole serial; or,
// for a CA moved here, a serial it issued on the server it came from (`foreign`), which
// the database does not hold. kNotFound for any other serial, and for a whole serial
// whose entropy is not the certificate's.
struct RevocationTarget {
  pki::SerialNumber serial;
  bool foreign = false;
};

Result<RevocationTarget> revocation_target(const store::Store& store,
                                           const pki::SerialNumber& serial) {
  auto rec = store.certificate(serial.sequence);
  if (!rec.has_value() && rec.error().code() == Code::kNotFound) {
    ASSIGN_OR_RETURN(std::optional<std::string> adopted, store.meta(kMetaAdoptedSerial));
    const auto floor = adopted.has_value() ? parse_decimal<std::uint64_t>(*adopted) : std::nullopt;
    if (floor && serial.sequence <= *floor) return RevocationTarget{serial, true};
  }
  if (!rec.has_value()) return fail(rec.error());
  if (serial.entropy.has_value() && serial.entropy != rec->serial_entropy) {
    return fail(not_found("no certificate with serial number " + serial.hex()));
  }
  return RevocationTarget{{rec->serial, rec->serial_entropy}, false};
}

}  // namespace

Status CertificateServer::usable_ca_key(const KeyEntry& entry) const {
  if (entry.key.has_private()) return ok_status();
  if (!entry.device.empty()) {
    return unavailable(fmt::format("The CA key {} is on token {}, which cannot be used: {}", label_,
                                   entry.device, entry.device_error));
  }
  return invalid_argument("The key " + label_ + " has no private key.");
}

Result<KeyEntry> CertificateServer::generate_server_key(const std::string& label,
                                                        std::string_view what) {
  const std::string device = deps_.key_device ? deps_.key_device() : std::string();
  std::optional<pki::Key> made;
  if (!device.empty()) {
    // `on NAME:` under the server's trustpoint: the token makes the key and keeps it.
    if (deps_.tokens == nullptr) return fail(unavailable("This scepterd has no tokens."));
    auto token = deps_.tokens->open(device);
    if (!token.has_value()) {
      return fail(unavailable(fmt::format("The {} cannot be generated on token {}: {}", what,
                                          device, token.error().message())));
    }
    Result<pki::Key> key = (*token)->generate_rsa(label, kDefaultCaKeyBits);
    if (!key.has_value() && key.error().code() == Code::kAlreadyExists) {
      key = (*token)->find(label);  // made there before (an earlier attempt, pkcs11-tool)
    }
    if (!key.has_value()) return fail(key.error());
    made = std::move(*key);
  } else {
    ASSIGN_OR_RETURN(pki::Key key, pki::Key::generate_rsa(kDefaultCaKeyBits));
    made = std::move(key);
  }
  KeyEntry entry{label, std::move(*made), KeyUsage::kGeneralPurpose, false, deps_.clock.now()};
  entry.device = device;
  RETURN_IF_ERROR(deps_.keys.put(entry));
  return entry;
}

Result<KeyEntry> CertificateServer::ensure_ca_key(Runtime& rt, EnableReport& report) {
  std::optional<KeyEntry> existing = deps_.keys.get(label_);
  if (existing.has_value() && existing->encryption_key) {
    return fail(invalid_argument(fmt::format(
        "The key {0} is usage keys; a CA signs and decrypts with one general-purpose key. "
        "Remove it (crypto key zeroize rsa {0}) or name another key.",
        label_)));
  }
  if (existing.has_value()) {
    RETURN_IF_ERROR(usable_ca_key(*existing));
    return *existing;
  }
  log::trace(log::Category::kPkiServer,
             "CRYPTO_CS: key '{}' does not exist; generated automatically", label_);
  ASSIGN_OR_RETURN(KeyEntry entry, generate_server_key(label_, "CA key"));
  if (!entry.device.empty()) report.key_on_token = entry.device;
  store::WriteBatch generated;
  generated.put_meta(kMetaKeyGenerated, "1");
  RETURN_IF_ERROR(rt.store->write(generated));
  report.generated_key = true;
  report.key_bits = kDefaultCaKeyBits;
  return entry;
}

Status CertificateServer::generate_ca(Runtime& rt, const ServerConfig& cfg, EnableReport& report,
                                      const EnableOptions& options) {
  ASSIGN_OR_RETURN(auto subject, pki::parse_dn(cfg.effective_issuer()));
  ASSIGN_OR_RETURN(const KeyEntry entry, ensure_ca_key(rt, report));
  const TimePoint now = deps_.clock.now();
  TimePoint not_after = now + std::chrono::days(cfg.ca_lifetime_days);
  if (to_unix(not_after) > kLastUtcTime) not_after = from_unix(kLastUtcTime);
  const pki::CaCertSpec spec{.subject = subject.get(),
                             .key = entry.key,
                             .serial = 1,
                             .not_before = now,  // no backdating, as IOS
                             .not_after = not_after,
                             .hash = cfg.hash};
  ASSIGN_OR_RETURN(pki::Certificate cert, pki::make_ca_certificate(spec));
  return install_ca(rt, cfg, cert, entry, report, options);
}

Status CertificateServer::obtain_superior_ca(Runtime& rt, const ServerConfig& cfg,
                                             EnableReport& report, const EnableOptions& options,
                                             LifeEvent& event) {
  event = LifeEvent::kCheckFailed;
  if (!deps_.superior_state || !deps_.superior_enroll) {
    return unavailable("This scepterd has no SCEP client to reach a superior CA.");
  }
  // An RA asks for a certificate of its own under the trustpoint's subject-name (which
  // names the RA role); a subordinate CA for a CA certificate under its issuer name.
  const bool ra = is_ra_mode(cfg);
  const char* what = ra ? "RA certificate" : "CA certificate";
  // A subordinate CA's key is made here (and archived later). An RA's is made by its
  // trustpoint when it enrols, so that `rsakeypair LABEL SIZE ENC-SIZE` gives it usage
  // keys: one certificate to sign, another for clients to encrypt to.
  if (!ra) {
    auto key = ensure_ca_key(rt, report);
    if (!key.has_value()) return key.error();
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::optional<EnrollmentState> state = deps_.superior_state();
    if (!state || !state->ca) {
      event = LifeEvent::kNeedsOperator;
      return permission_denied(fmt::format(
          "The superior CA is not authenticated: give trustpoint {} an enrollment url and enter "
          "\"no shutdown\" on the console.",
          label_));
    }
    const std::optional<KeyEntry> entry = deps_.keys.get(label_);
    if (entry && state->enrolled(entry->encryption_key.has_value())) {
      const pki::Certificate& cert = *state->certificate;
      auto cert_key = cert.public_key();
      const bool usable =
          ra ? !cert.is_ca() && is_ra_certificate_name(cert.subject()) : cert.is_ca();
      if (cert_key.has_value() && cert_key->equals_public(entry->key) && usable) {
        log::info("%PKI-6-CERTRET: Certificate received from Certificate Authority");
        log::trace(log::Category::kPkiServer,
                   "CRYPTO_CS: enter FSM: input state check failed, input signal cert configured");
        rt.upper_chain = state->ca->ca_chain;
        if (entry->encryption_key) {
          RETURN_IF_ERROR(use_ra_encryption(rt, *state->encryption_certificate, *entry));
        }
        return install_ca(rt, cfg, cert, *entry, report, options);
      }
    }
    if (state->pending) {
      event = LifeEvent::kNeedsSuperior;
      return unavailable(
          fmt::format("Waiting for the superior CA to grant the {} (request fingerprint {}).", what,
                      pki::ios_fingerprint(state->pending->fingerprint_md5())));
    }
    if (!options.request_superior || attempt > 0) {
      event = LifeEvent::kNeedsOperator;
      return permission_denied(
          state->last_error.empty()
              ? fmt::format("The {} has not been requested from the superior CA: enter "
                            "\"no shutdown\" on the console.",
                            what)
              : fmt::format("{}; enter \"no shutdown\" to request the {} again.", state->last_error,
                            what));
    }
    log::trace(log::Category::kPkiServer, "CRYPTO_CS: enrolling the server's trustpoint '{}'",
               label_);
    EnrollOptions request;
    if (!ra) request.subject = cfg.effective_issuer();
    request.ca_request = !ra;
    request.ra_request = ra;
    auto sent = deps_.superior_enroll(request);
    if (!sent.has_value()) return sent.error();
    report.requested_superior = true;
    report.request_fingerprint = sent->fingerprint_md5;
    if (sent->status == UpstreamReply::Status::kFailure) {
      event = LifeEvent::kNeedsOperator;
      return permission_denied(sent->error);
    }
    // SUCCESS or PENDING: look again (the certificate, or the request waiting).
  }
  return internal_error("unreachable");
}

Status CertificateServer::use_ra_encryption(Runtime& rt, const pki::Certificate& cert,
                                            const KeyEntry& entry) {
  auto cert_key = cert.public_key();
  if (!entry.encryption_key || !cert_key.has_value() ||
      !cert_key->equals_public(*entry.encryption_key)) {
    return invalid_argument("The RA encryption certificate does not match the encryption key " +
                            label_ + ".");
  }
  if (cert.is_ca() || !is_ra_certificate_name(cert.subject())) {
    return invalid_argument("The RA encryption certificate is not an RA certificate.");
  }
  rt.encryption_cert = cert;
  rt.encryption_key = *entry.encryption_key;
  return ok_status();
}

Status CertificateServer::setup_scep_encryption(Runtime& rt, const ServerConfig& cfg,
                                                EnableReport& report) {
  const std::string& label = cfg.scep_encryption_key;
  if (label.empty()) {
    if (rt.ca_key->is_rsa()) return ok_status();
    return invalid_argument(fmt::format(
        "The CA key {} is not an RSA key, and SCEP clients encrypt their requests to RSA: name "
        "an RSA key for them (scep encryption-key LABEL; generated if it does not exist).",
        label_));
  }
  if (label == label_ || label == shadow_key_label()) {
    return invalid_argument(fmt::format(
        "The SCEP encryption key must be another key than the CA key {} (scep encryption-key).",
        label_));
  }
  std::optional<KeyEntry> entry = deps_.keys.get(label);
  if (!entry) {
    log::trace(log::Category::kPkiServer,
               "CRYPTO_CS: SCEP encryption key '{}' does not exist; generated automatically",
               label);
    ASSIGN_OR_RETURN(KeyEntry made, generate_server_key(label, "SCEP encryption key"));
    entry = std::move(made);
    report.generated_encryption_key_bits = kDefaultCaKeyBits;
    report.encryption_key_on_token = entry->device;
  }
  if (entry->encryption_key || !entry->key.is_rsa()) {
    return invalid_argument(
        fmt::format("The SCEP encryption key {} must be one general-purpose RSA key pair.", label));
  }
  if (!entry->key.has_private()) {
    return entry->device.empty()
               ? invalid_argument("The key " + label + " has no private key.")
               : unavailable(fmt::format("The SCEP encryption key {} is on token {}, which cannot "
                                         "be used: {}",
                                         label, entry->device, entry->device_error));
  }
  ASSIGN_OR_RETURN(pki::Certificate cert,
                   service_certificate(rt, cfg, entry->key, kScepEncryptionCert,
                                       &report.issued_encryption_serial));
  rt.encryption_cert = std::move(cert);
  rt.encryption_key = entry->key;
  return ok_status();
}

Result<pki::Certificate> CertificateServer::service_certificate(
    Runtime& rt, const ServerConfig& cfg, const pki::Key& key, const ServiceCert& kind,
    std::string* issued, const ServiceNames* names) {
  const pki::Certificate& ca = *rt.ca_cert;
  const TimePoint now = deps_.clock.now();
  const std::string meta = names != nullptr ? names->meta : std::string(kind.meta);
  std::vector<std::string> wanted_names;
  if (names != nullptr) {
    ASSIGN_OR_RETURN(wanted_names, pki::tls_server_alt_names({.subject = nullptr,
                                                              .key = key,
                                                              .ca_cert = ca,
                                                              .ca_key = *rt.ca_key,
                                                              .role = kind.role,
                                                              .dns_names = names->dns,
                                                              .ip_addresses = names->ip}));
  }
  // The certificate issued at an earlier start, while it still fits: the same key, issued
  // by this CA certificate (a rollover gives a new one), valid with more than a third of
  // a limited lifetime left, not revoked.
  ASSIGN_OR_RETURN(std::optional<std::string> stored, rt.store->meta(meta));
  if (stored.has_value()) {
    auto cert = pki::Certificate::from_der(*stored);
    auto cert_key = cert.has_value() ? cert->public_key() : Result<pki::Key>(fail(cert.error()));
    const TimePoint renew_at =
        cert.has_value() && kind.lifetime
            ? cert->not_after() - (cert->not_after() - cert->not_before()) / 3
            : (cert.has_value() ? cert->not_after() : now);
    bool fits = cert_key.has_value() && cert_key->equals_public(key) && cert->signed_by(ca) &&
                now < renew_at && (names == nullptr || pki::alt_names(*cert) == wanted_names);
    if (fits) {
      auto serial = cert->serial();
      auto rec = serial.has_value() ? rt.store->certificate(serial->sequence)
                                    : Result<store::CertRecord>(fail(serial.error()));
      if (!rec.has_value() && rec.error().code() != Code::kNotFound) return fail(rec.error());
      fits = rec.has_value() && rec->der == cert->der() && !rec->revoked_at;
    }
    if (fits) return std::move(*cert);
  }
  // A new certificate for the key, valid for its lifetime but never past the CA's.
  if (now >= ca.not_after()) return fail(unavailable("The CA certificate has expired."));
  const TimePoint not_after =
      kind.lifetime ? std::min(ca.not_after(), now + *kind.lifetime) : ca.not_after();
  ASSIGN_OR_RETURN(store::Serial serial, rt.store->allocate_serial());
  pki::SerialNumber number{serial};
  if (pki::collision_prone(cfg.hash)) {
    ASSIGN_OR_RETURN(number, pki::SerialNumber::with_entropy(serial));
  }
  pki::Ptr<X509_NAME> subject;
  if (names != nullptr && !names->dns.empty()) {
    ASSIGN_OR_RETURN(subject, pki::common_name(names->dns.front()));
  } else {
    ASSIGN_OR_RETURN(subject,
                     pki::parse_dn(pki::format_dn_config(ca.subject()) + ",OU=" + kind.unit));
  }
  // Signed with SHA-256 at least: `hash md5|sha1` is for old SCEP clients' sake only.
  const pki::ServiceCertSpec spec{
      .subject = subject.get(),
      .key = key,
      .ca_cert = ca,
      .ca_key = *rt.ca_key,
      .serial = number,
      .not_before = now,
      .not_after = not_after,
      .hash = kind.role == pki::ServiceRole::kOcspSigning && pki::collision_prone(cfg.hash)
                  ? pki::Hash::kSha256
                  : cfg.hash,
      .cdp_url = cfg.cdp_url,
      .role = kind.role,
      .dns_names = names != nullptr ? names->dns : std::vector<std::string>{},
      .ip_addresses = names != nullptr ? names->ip : std::vector<std::string>{}};
  ASSIGN_OR_RETURN(pki::Certificate cert, pki::make_service_certificate(spec));
  store::CertRecord rec;
  rec.serial = serial;
  rec.der = cert.der();
  rec.subject = pki::format_dn_config(cert.subject());
  rec.not_before = now;
  rec.not_after = cert.not_after();
  rec.serial_entropy = number.entropy;
  store::WriteBatch batch;
  batch.put_certificate(rec);
  batch.put_meta(meta, cert.der());
  RETURN_IF_ERROR(rt.store->write(batch));
  if (rt.issuer) rt.issuer->note_issued(serial);
  log::info("certificate server {}: {} 0x{} issued", label_, kind.what, number.hex());
  if (issued != nullptr) *issued = number.hex();
  return cert;
}

Status CertificateServer::write_archive(const ServerConfig& cfg, const pki::Certificate& cert,
                                        const pki::Key& key, const std::string& password,
                                        const std::string& name) {
  files::FileSet files = file_set(cfg);
  if (cfg.archive_format == ArchiveFormat::kPkcs12) {
    ASSIGN_OR_RETURN(std::string p12,
                     pki::make_pkcs12(cert, key, password, label_, {}, pki::Pkcs12Cipher::kAes256,
                                      deps_.archive_kdf_iterations));
    return files.write(files::FileType::kP12, name + ".p12", p12, 0600);
  }
  if (!key.token().empty()) {
    // The key never leaves its token: the certificate alone.
    return files.write(files::FileType::kPem, name + ".pem", cert.pem(), 0600);
  }
  ASSIGN_OR_RETURN(std::string key_pem,
                   key.to_encrypted_pkcs8_pem(password, deps_.archive_kdf_iterations));
  return files.write(files::FileType::kPem, name + ".pem", cert.pem() + key_pem, 0600);
}

Status CertificateServer::install_ca(Runtime& rt, const ServerConfig& cfg,
                                     const pki::Certificate& cert, const KeyEntry& entry,
                                     EnableReport& report, const EnableOptions& options) {
  store::WriteBatch batch;
  if (cert.signed_by(cert)) {
    // A root's own certificate is serial 1 of its database, as on IOS. A subordinate
    // CA's certificate has the superior's serial and lives in the superior's database.
    batch.put_certificate(certificate_record(cert, 1));
  }
  batch.put_meta(kMetaCaCert, cert.der());
  if (rt.encryption_cert) batch.put_meta(kMetaRaEncryptionCert, rt.encryption_cert->der());
  RETURN_IF_ERROR(rt.store->write(batch));
  RETURN_IF_ERROR(fs::write_atomic(trustpoint_cert_path(), cert.der()));
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: serial number 0x1 written.");
  rt.ca_cert = cert;
  rt.ca_key = entry.key;
  report.generated_ca = true;
  if (!entry.device.empty()) report.key_on_token = entry.device;

  // Whether the server generated the key in an earlier run (a subordinate CA's
  // certificate, and so its archive, comes after its key).
  auto generated_by_server = [&rt] {
    auto m = rt.store->meta(kMetaKeyGenerated);
    return m.has_value() && m->has_value() && **m == "1";
  };
  const bool ra_mode = is_ra_mode(cfg);
  // The archive is written once. The seed: a key generated by the server is archived;
  // a key the operator generated is archived only if it is exportable.
  if (ra_mode) {
    // An RA's key signs no certificate: there is no CA key to archive.
  } else if (!cfg.archive_enabled) {
    report.archive_skipped_reason = "archive disabled";
  } else if (!report.generated_key && !entry.exportable && !generated_by_server() &&
             entry.device.empty()) {
    report.archive_skipped_reason = "the key " + label_ + " is not exportable";
  } else {
    std::string password =
        cfg.archive_password.empty() ? options.archive_password : cfg.archive_password;
    if (password.empty()) {
      report.archive_skipped_reason = "no archive password";
    } else {
      RETURN_IF_ERROR(write_archive(cfg, cert, entry.key, password, label_));
      store::WriteBatch archived;
      archived.put_meta(kMetaArchived, "1");
      RETURN_IF_ERROR(rt.store->write(archived));
      report.archived = true;
    }
  }
  if (!report.archive_skipped_reason.empty()) {
    log::warn("certificate server {}: CA key not archived: {}", label_,
              report.archive_skipped_reason);
  }
  return ok_status();
}

Status CertificateServer::revoke(const pki::SerialNumber& serial, std::optional<int> reason) {
  if (reason && !pki::is_crl_entry_reason(*reason)) {
    return invalid_argument(fmt::format("{} is not a revocation reason.", *reason));
  }
  auto rt = runtime();
  if (!rt) return unavailable("The certificate server is not enabled.");
  if (!rt->crl) {
    return permission_denied(
        "A certificate server in RA mode revokes nothing: revoke the certificate on the "
        "issuing CA.");
  }
  if (serial.sequence == 1) return invalid_argument("The CA certificate cannot be revoked.");
  ASSIGN_OR_RETURN(const RevocationTarget target, revocation_target(*rt->store, serial));
  const ServerConfig cfg = config();
  // The foreign revocations keep no reasons (crl_publisher.h).
  Status s = target.foreign ? rt->crl->revoke_foreign(target.serial, cfg, file_set(cfg))
                            : rt->crl->revoke(target.serial, reason, cfg, file_set(cfg));
  if (s.ok()) {
    revoked_count_.add();
    notify(EventKind::kCertificate, target.serial.hex(), "revoked");
    notify(EventKind::kCrl, "", "published");  // a revocation publishes a new CRL
  }
  if (!s.ok() && rt->crl->dirty()) fail_critical(unavailable("CRL could not be written"));
  return s;
}

Status CertificateServer::unrevoke(const pki::SerialNumber& serial) {
  auto rt = runtime();
  if (!rt) return unavailable("The certificate server is not enabled.");
  if (!rt->crl) {
    return permission_denied(
        "A certificate server in RA mode unrevokes nothing: unrevoke the certificate on the "
        "issuing CA.");
  }
  ASSIGN_OR_RETURN(const RevocationTarget target, revocation_target(*rt->store, serial));
  const ServerConfig cfg = config();
  Status s = target.foreign ? rt->crl->unrevoke_foreign(target.serial, cfg, file_set(cfg))
                            : rt->crl->unrevoke(target.serial, cfg, file_set(cfg));
  if (s.ok()) {
    notify(EventKind::kCertificate, target.serial.hex(), "unrevoked");
    notify(EventKind::kCrl, "", "published");
  }
  if (!s.ok() && rt->crl->dirty()) fail_critical(unavailable("CRL could not be written"));
  return s;
}

std::shared_ptr<const std::string> CertificateServer::crl_der() const {
  std::shared_ptr<Runtime> rt;
  {
    MutexLock lock(mu_);
    rt = runtime_;  // a CRL is served while the server waits to recover, as on IOS
  }
  return rt && rt->crl ? rt->crl->der() : nullptr;  // an RA has no CRL
}

Result<CrlSummary> CertificateServer::current_crl() const {
  auto der = crl_der();
  if (!der) return fail(unavailable("CRL not present."));
  ASSIGN_OR_RETURN(pki::CrlInfo info, pki::parse_crl_info(*der));
  return CrlSummary{*der, std::move(info)};
}

Status CertificateServer::for_each_certificate(
    const std::function<bool(const store::CertRecord&)>& fn) const {
  std::shared_ptr<Runtime> rt;
  {
    MutexLock lock(mu_);
    rt = runtime_;
  }
  if (!rt) return unavailable("The certificate server is not enabled.");
  return rt->store->for_each_certificate(fn);
}

Result<store::CertRecord> CertificateServer::stored_certificate(Serial sequence) const {
  std::shared_ptr<Runtime> rt = runtime();
  if (!rt) return fail(unavailable("The certificate server is not enabled."));
  return rt->store->certificate(sequence);
}

Status CertificateServer::setup_ocsp(Runtime& rt, const ServerConfig& cfg) {
  // A response signed with MD5 or SHA-1 would be forgeable; `hash` chose them for old
  // SCEP clients, which do not speak OCSP.
  const pki::Hash hash = pki::collision_prone(cfg.hash) ? pki::Hash::kSha256 : cfg.hash;
  std::optional<pki::ocsp::ResponseSigner> signer;
  std::optional<pki::Certificate> responder;
  const std::string& label = cfg.ocsp_responder_key;
  if (label.empty()) {
    ASSIGN_OR_RETURN(signer,
                     pki::ocsp::ResponseSigner::create(*rt.ca_cert, *rt.ca_key, hash, false));
  } else {
    if (label == label_ || label == shadow_key_label() || label == cfg.scep_encryption_key) {
      return invalid_argument(fmt::format(
          "The OCSP responder key must be a key of its own, not the CA key {} or the SCEP "
          "encryption key (ocsp responder-key).",
          label_));
    }
    std::optional<KeyEntry> entry = deps_.keys.get(label);
    if (!entry) {
      log::trace(log::Category::kPkiServer,
                 "CRYPTO_CS: OCSP responder key '{}' does not exist; generated automatically",
                 label);
      ASSIGN_OR_RETURN(KeyEntry made, generate_server_key(label, "OCSP responder key"));
      entry = std::move(made);
    }
    if (entry->encryption_key || !entry->key.has_private()) {
      return entry->device.empty() || entry->key.has_private()
                 ? invalid_argument(fmt::format(
                       "The OCSP responder key {} must be one general-purpose key pair.", label))
                 : unavailable(fmt::format("The OCSP responder key {} is on token {}, which "
                                           "cannot be used: {}",
                                           label, entry->device, entry->device_error));
    }
    ASSIGN_OR_RETURN(responder,
                     service_certificate(rt, cfg, entry->key, kOcspResponderCert, nullptr));
    ASSIGN_OR_RETURN(signer, pki::ocsp::ResponseSigner::create(*responder, entry->key, hash, true));
  }
  CrlPublisher* crl = rt.crl.get();
  auto made = std::make_shared<OcspResponder>(
      *rt.store, deps_.clock, *rt.ca_cert, std::move(*signer), [crl] { return crl->revision(); },
      std::move(responder));
  made->configure(ocsp_settings(cfg));
  rt.set_ocsp(std::move(made));
  return ok_status();
}

void CertificateServer::ocsp_tick(const std::shared_ptr<Runtime>& rt) {
  std::shared_ptr<OcspResponder> current = rt->ocsp_responder();
  if (!current || !current->certificate()) return;
  const pki::Certificate& cert = *current->certificate();
  const TimePoint now = deps_.clock.now();
  if (now < cert.not_after() - (cert.not_after() - cert.not_before()) / 3) return;
  // After a failure the next try waits, twice as long each time (a minute, two, four ...
  // up to an hour), so that a database that is down is not asked every tick and the log
  // says so once per try.
  if (to_unix(now) < rt->ocsp_renewal_retry_at.load()) return;
  // A third of its lifetime left: a new certificate, and a responder that signs with it.
  if (Status s = setup_ocsp(*rt, config()); !s.ok()) {
    const int failures = rt->ocsp_renewal_failures.fetch_add(1) + 1;
    const std::int64_t wait = std::min<std::int64_t>(
        kOcspRenewalRetry.count() << std::min(failures - 1, 6), kOcspRenewalMaxRetry.count());
    rt->ocsp_renewal_retry_at = to_unix(now) + wait;
    log::error(
        "certificate server {}: the OCSP responder certificate could not be renewed: {} (next "
        "try in {} s)",
        label_, s.message(), wait);
    return;
  }
  rt->ocsp_renewal_failures = 0;
  rt->ocsp_renewal_retry_at = 0;
}

}  // namespace scepter::ca
