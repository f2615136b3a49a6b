// CertificateServer: automatic CA certificate and key rollover (the guide's "Automatic CA
// Certificate and Key Rollover"). Stage two makes a shadow key and CA certificate that
// take over, in stage three, at the moment the current CA certificate expires.
//
// What is durable, and in which order, so that a crash at any point leaves a state a
// restart understands:
//   - stage two: the archive of the shadow (when configured), then the key
//     (LABEL.rollover), then in one transaction the shadow certificate's record and
//     meta rollover_cert. A key without the meta is an unfinished stage two: ignored, and
//     replaced by the next one.
//   - stage three: in one transaction meta ca_cert := the shadow, rollover_cert deleted;
//     then the key store (LABEL := the shadow key, LABEL.rollover removed), the
//     trustpoint's copy and the archive. A restart that finds the database ahead of the
//     key store finishes the switch (finish_interrupted_switch).

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/issuer.h"
#include "ca/server_runtime.h"
#include "common/fs.h"
#include "common/log.h"
#include "pki/issuer.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

// IOS clients do not accept CA certificates that expire after 2049 (UTCTime).
constexpr std::int64_t kLastUtcTime = 2524607999;  // 2049-12-31T23:59:59Z
// A failed automatic stage two is tried again after this long.
constexpr std::int64_t kRolloverRetrySeconds = 3600;

std::string archive_name(const std::string& label) { return label + "-rollover"; }

}  // namespace

store::CertRecord certificate_record(const pki::Certificate& cert, Serial serial) {
  store::CertRecord rec;
  rec.serial = serial;
  rec.der = cert.der();
  rec.subject = pki::format_dn_ios(cert.subject());
  rec.not_before = cert.not_before();
  rec.not_after = cert.not_after();
  return rec;
}

bool is_rollover_request(const store::RequestRecord& request) {
  return (request.flags & kFlagRollover) != 0;
}

Status CertificateServer::make_shadow(Runtime& rt, const ServerConfig& cfg,
                                      const std::string& archive_password) {
  if (cfg.mode != ServerMode::kRoot) {
    return permission_denied(
        "A subordinate CA or an RA rolls over through its superior CA, which scepterd does not "
        "do yet; roll the superior over and enrol this server again.");
  }
  if (rt.shadow()) {
    return already_exists(fmt::format(
        "A rollover CA certificate exists already (crypto pki server {} rollover cancel "
        "deletes it).",
        label_));
  }
  const pki::Certificate& current = *rt.ca_cert;
  std::string password = cfg.archive_password.empty() ? archive_password : cfg.archive_password;
  if (cfg.archive_enabled && password.empty()) {
    // The guide: if the archive fails, there is no rollover.
    return permission_denied(
        "The rollover CA key must be archived and no archive password is configured: "
        "configure \"database archive pkcs12|pem password PASSWORD\" or start the rollover at "
        "the console.");
  }
  const int bits = rt.ca_key->bits() > 0 ? rt.ca_key->bits() : kDefaultCaKeyBits;
  ASSIGN_OR_RETURN(pki::Key key,
                   rt.ca_key->is_ec() ? pki::Key::generate_ec(bits) : pki::Key::generate_rsa(bits));
  const TimePoint not_before = current.not_after();
  TimePoint not_after = not_before + std::chrono::days(cfg.ca_lifetime_days);
  if (to_unix(not_after) > kLastUtcTime) not_after = from_unix(kLastUtcTime);
  if (not_after <= not_before) {
    return invalid_argument(
        "The CA certificate expires too late for a rollover certificate that ends by 2049.");
  }
  ASSIGN_OR_RETURN(store::Serial serial, rt.store->allocate_serial());
  const pki::CaCertSpec spec{.subject = current.subject(),
                             .key = key,
                             .serial = serial,
                             .not_before = not_before,
                             .not_after = not_after,
                             .hash = cfg.hash};
  ASSIGN_OR_RETURN(pki::Certificate cert, pki::make_ca_certificate(spec));
  if (cfg.archive_enabled) {
    RETURN_IF_ERROR(write_archive(cfg, cert, key, password, archive_name(label_)));
  }
  std::optional<KeyEntry> current_key = deps_.keys.get(label_);
  KeyEntry entry{shadow_key_label(), key, KeyUsage::kGeneralPurpose,
                 current_key && current_key->exportable, deps_.clock.now()};
  RETURN_IF_ERROR(deps_.keys.put(entry));
  store::WriteBatch batch;
  batch.put_certificate(certificate_record(cert, serial));
  batch.put_meta(kMetaRolloverCert, cert.der());
  RETURN_IF_ERROR(rt.store->write(batch));
  rt.set_shadow(std::make_shared<const Runtime::Shadow>(
      Runtime::Shadow{cert, key, std::make_shared<Issuer>(*rt.store, cert, key, deps_.clock)}));
  log::info(
      "%PKI-6-CS_ROLLOVER_AVAILABLE: [Sub/RA]CS Rollover certificate has been generated for {}, "
      "and it will be active at {}",
      label_, format_ios_time(not_before));
  return ok_status();
}

Status CertificateServer::load_shadow(Runtime& rt) {
  auto der = rt.store->meta(kMetaRolloverCert);
  if (!der.has_value()) return der.error();
  if (!der->has_value()) return ok_status();
  ASSIGN_OR_RETURN(pki::Certificate cert, pki::Certificate::from_der(**der));
  std::optional<KeyEntry> key = deps_.keys.get(shadow_key_label());
  auto cert_key = cert.public_key();
  if (!key || !cert_key.has_value() || !key->key.equals_public(*cert_key)) {
    return not_found(fmt::format(
        "The rollover CA certificate has no key {} (crypto pki server {} rollover cancel "
        "deletes the certificate).",
        shadow_key_label(), label_));
  }
  rt.set_shadow(std::make_shared<const Runtime::Shadow>(Runtime::Shadow{
      cert, key->key, std::make_shared<Issuer>(*rt.store, cert, key->key, deps_.clock)}));
  return ok_status();
}

Status CertificateServer::start_rollover(const std::string& archive_password) {
  auto rt = runtime();
  if (!rt) return unavailable("The certificate server is not enabled.");
  if (!rt->issuer) {
    return permission_denied(
        "A certificate server in RA mode rolls its certificate over through the issuing CA, "
        "which scepterd does not do yet.");
  }
  MutexLock op(rt->rollover_op_mu);
  return make_shadow(*rt, config(), archive_password);
}

Status CertificateServer::cancel_rollover() {
  auto rt = runtime();
  if (!rt) return unavailable("The certificate server is not enabled.");
  MutexLock op(rt->rollover_op_mu);
  if (!rt->shadow()) return not_found("There is no rollover CA certificate to cancel.");
  // The database first: without the meta, a key left behind by a crash is ignored.
  store::WriteBatch batch;
  batch.delete_meta(kMetaRolloverCert);
  RETURN_IF_ERROR(rt->store->write(batch));
  rt->set_shadow(nullptr);
  if (Status s = deps_.keys.remove(shadow_key_label()); !s.ok() && s.code() != Code::kNotFound) {
    log::warn("certificate server {}: the rollover key could not be deleted: {}", label_,
              s.message());
  }
  const ServerConfig cfg = config();
  files::FileSet files = file_set(cfg);
  const std::string name = archive_name(label_);
  (void)files.remove(files::FileType::kP12, name + ".p12");
  (void)files.remove(files::FileType::kPem, name + ".pem");
  log::info("certificate server {}: rollover CA certificate and key deleted", label_);
  return ok_status();
}

std::optional<pki::Certificate> CertificateServer::rollover_certificate() const {
  auto rt = runtime();
  if (!rt) return std::nullopt;
  auto shadow = rt->shadow();
  if (!shadow) return std::nullopt;
  return shadow->cert;
}

Status CertificateServer::switch_to_shadow(Runtime& rt, const ServerConfig& cfg) {
  auto shadow = rt.shadow();
  if (!shadow) return not_found("no rollover certificate");
  const pki::Certificate old = *rt.ca_cert;
  store::WriteBatch batch;
  batch.put_meta(kMetaCaCert, shadow->cert.der());
  batch.delete_meta(kMetaRolloverCert);
  RETURN_IF_ERROR(rt.store->write(batch));
  // From here on the new certificate is the CA's: what follows is finished by a restart
  // if it is interrupted.
  RETURN_IF_ERROR(finish_interrupted_switch(shadow->cert));
  // The archive of the new CA takes the archive's usual name (the old key is of no use
  // once its certificate has expired).
  files::FileSet files = file_set(cfg);
  const std::string name = archive_name(label_);
  for (auto [type, ext] :
       {std::pair{files::FileType::kP12, ".p12"}, std::pair{files::FileType::kPem, ".pem"}}) {
    auto bytes = files.read(type, name + ext);
    if (!bytes.has_value()) continue;
    Status s = files.write(type, label_ + ext, *bytes, 0600);
    if (s.ok()) s = files.remove(type, name + ext);
    if (!s.ok()) {
      log::warn("certificate server {}: the rollover archive {}{} could not be renamed: {}", label_,
                name, ext, s.message());
    }
  }
  log::info(
      "%PKI-6-CS_ROLLOVER_ACTIVE: [Sub/RA]CS Rollover certificate has been activated for {}, "
      "replacing the previous [Sub/RA]CA certificate (serial {}, expired {})",
      label_, old.serial_hex(), format_ios_time(old.not_after()));
  return ok_status();
}

Status CertificateServer::finish_interrupted_switch(const pki::Certificate& ca_cert) {
  auto cert_key = ca_cert.public_key();
  if (!cert_key.has_value()) return cert_key.error();
  std::optional<KeyEntry> current = deps_.keys.get(label_);
  if (!current || !current->key.equals_public(*cert_key)) {
    std::optional<KeyEntry> shadow = deps_.keys.get(shadow_key_label());
    if (!shadow || !shadow->key.equals_public(*cert_key)) {
      return invalid_argument("The key " + label_ + " does not match the CA certificate.");
    }
    KeyEntry entry = *shadow;
    entry.label = label_;
    RETURN_IF_ERROR(deps_.keys.put(entry));
  }
  if (Status s = deps_.keys.remove(shadow_key_label()); !s.ok() && s.code() != Code::kNotFound) {
    return s;
  }
  return fs::write_atomic(trustpoint_cert_path(), ca_cert.der());
}

void CertificateServer::rollover_tick(const std::shared_ptr<Runtime>& rt) {
  if (!rt->issuer || state() != ServerState::kEnabled) return;  // an RA, or not issuing
  const ServerConfig cfg = config();
  const TimePoint now = deps_.clock.now();
  const pki::Certificate& current = *rt->ca_cert;
  if (rt->shadow() && now >= current.not_after()) {
    Status s;
    {
      MutexLock op(rt->rollover_op_mu);
      if (!rt->shadow()) return;  // cancelled meanwhile
      s = switch_to_shadow(*rt, cfg);
    }
    MutexLock lock(mu_);
    if (runtime_ != rt) return;
    if (!s.ok()) {
      transition(LifeEvent::kCriticalFailure,
                 "The rollover CA certificate could not be activated: " + s.message());
      log::error("certificate server {}: rollover: {}", label_, s.message());
      return;
    }
    // Rebuilt from what was written, as at a restart: the next tick enables it again.
    transition(LifeEvent::kCriticalFailure, "activating the rollover CA certificate");
    runtime_.reset();
    return;
  }
  // A subordinate CA is told, hourly in the log, that it cannot roll over yet.
  if (!cfg.auto_rollover_days || rt->shadow()) return;
  const TimePoint due = current.not_after() - std::chrono::days(*cfg.auto_rollover_days);
  if (now < due) return;
  const std::int64_t now_s = to_unix(now);
  const std::int64_t last = rt->last_rollover_attempt.load();
  if (last != 0 && now_s >= last && now_s - last < kRolloverRetrySeconds) return;
  rt->last_rollover_attempt = now_s;
  Status s;
  {
    MutexLock op(rt->rollover_op_mu);
    s = rt->shadow() ? ok_status() : make_shadow(*rt, cfg, {});
  }
  if (!s.ok()) {
    log::error("%PKI-3-CS_ROLLOVER_FAIL: certificate server {}: no rollover: {}", label_,
               s.message());
  }
}

}  // namespace scepter::ca
