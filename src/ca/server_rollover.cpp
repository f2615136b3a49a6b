// CertificateServer: automatic CA certificate and key rollover (the guide's "Automatic CA
// Certificate and Key Rollover"). Stage two makes a shadow key and CA certificate that
// take over, in stage three, at the moment the current CA certificate expires. A root
// signs its shadow itself; a subordinate CA or an RA asks its superior through its
// trustpoint (a request for the key LABEL.rollover signed by the current certificate)
// and installs what the superior grants.
//
// What is durable, and in which order, so that a crash at any point leaves a state a
// restart understands:
//   - stage two: the archive of the shadow (when configured), then the key
//     (LABEL.rollover), then in one transaction the shadow certificate's record and
//     meta rollover_cert. A key without the meta is an unfinished stage two: ignored, and
//     replaced by the next one.
//   - stage three: in one transaction meta ca_cert := the shadow, rollover_cert deleted;
//     then the key store (LABEL := the shadow key, LABEL.rollover removed), the
//     trustpoint's copy and the archive (a subordinate's trustpoint then takes the
//     rollover certificate as its own). A restart that finds the database ahead of the
//     key store finishes the switch (finish_interrupted_switch); one that finds the key
//     store ahead (the trustpoint moved the key first) finishes it in the database.

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/issuer.h"
#include "ca/request_policy.h"
#include "ca/server_runtime.h"
#include "common/fs.h"
#include "common/log.h"
#include "pki/digest.h"
#include "pki/issuer.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

// IOS clients do not accept CA certificates that expire after 2049 (UTCTime).
constexpr std::int64_t kLastUtcTime = 2524607999;  // 2049-12-31T23:59:59Z
// A failed automatic stage two is tried again after this long.
constexpr std::int64_t kRolloverRetrySeconds = 3600;

std::string archive_name(const std::string& label) { return label + "-rollover"; }

// The guide: if the archive fails, there is no rollover. Without a password it cannot be
// written, so the rollover does not begin.
// A rollover makes its shadow key in the key store: not for a CA whose key is on a token.
// A subordinate's rollover key is made by its trustpoint, which makes none on a token.
Status rollover_key_here(const pki::Key& ca_key) {
  if (ca_key.token().empty()) return ok_status();
  return permission_denied("The CA key is on token " + ca_key.token() +
                           ": a rollover of a subordinate CA or RA whose key is on a token is "
                           "not supported.");
}

Status no_archive_password(const std::string& label) {
  return permission_denied(fmt::format(
      "The rollover CA key must be archived and no archive password is configured: configure "
      "\"database archive pkcs12|pem password PASSWORD\" or enter \"crypto pki server {} "
      "rollover\" at the console.",
      label));
}

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

Status shared_rollover_refused(const std::string& label) {
  return permission_denied(fmt::format(
      "Certificate server {} is served from a database that several nodes share: its rollover "
      "key would live on one node only, so rollover is not available there yet (a CA on the "
      "local database rolls over as usual).",
      label));
}

bool is_rollover_request(const store::RequestRecord& request) {
  return (request.flags & kFlagRollover) != 0;
}

Status CertificateServer::make_shadow(Runtime& rt, const ServerConfig& cfg,
                                      const std::string& archive_password) {
  if (rt.shadow()) {
    return already_exists(fmt::format(
        "A rollover CA certificate exists already (crypto pki server {} rollover cancel "
        "deletes it).",
        label_));
  }
  const pki::Certificate& current = *rt.ca_cert;
  std::string password = cfg.archive_password.empty() ? archive_password : cfg.archive_password;
  if (cfg.archive_enabled && password.empty()) return no_archive_password(label_);
  const int bits = rt.ca_key->bits() > 0 ? rt.ca_key->bits() : kDefaultCaKeyBits;
  std::optional<KeyEntry> current_key = deps_.keys.get(label_);
  std::optional<pki::Key> made;
  std::string token_label;
  const std::string& device = rt.ca_key->token();
  if (!device.empty()) {
    // The shadow is made on the CA key's token too. The token keeps the label a key was
    // made with, so the shadow takes whichever of LABEL and LABEL.rollover the current
    // key does not hold there (the old key goes at the switch).
    if (deps_.tokens == nullptr) return unavailable("This scepterd has no tokens.");
    ASSIGN_OR_RETURN(std::shared_ptr<pki::Token> token, deps_.tokens->open(device));
    const std::string held = current_key ? current_key->object_label() : label_;
    token_label = held == label_ ? shadow_key_label() : label_;
    Result<pki::Key> key = token->generate_rsa(token_label, bits);
    if (!key.has_value() && key.error().code() == Code::kAlreadyExists) {
      // Left by an earlier attempt: unused, since no shadow refers to it.
      RETURN_IF_ERROR(token->remove(token_label));
      key = token->generate_rsa(token_label, bits);
    }
    if (!key.has_value()) return key.error();
    made = std::move(*key);
  } else {
    ASSIGN_OR_RETURN(pki::Key key, rt.ca_key->is_ec() ? pki::Key::generate_ec(bits)
                                                      : pki::Key::generate_rsa(bits));
    made = std::move(key);
  }
  const pki::Key key = std::move(*made);
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
  KeyEntry entry{shadow_key_label(), key, KeyUsage::kGeneralPurpose,
                 current_key && current_key->exportable && device.empty(), deps_.clock.now()};
  entry.device = device;
  if (token_label != shadow_key_label()) entry.token_label = token_label;
  RETURN_IF_ERROR(deps_.keys.put(entry));
  store::WriteBatch batch;
  batch.put_certificate(certificate_record(cert, serial));
  batch.put_meta(kMetaRolloverCert, cert.der());
  RETURN_IF_ERROR(rt.store->write(batch));
  rt.set_shadow(std::make_shared<const Runtime::Shadow>(Runtime::Shadow{
      cert, key, std::make_shared<Issuer>(*rt.store, cert, key, deps_.clock, deps_.ocsp_url)}));
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
  std::optional<pki::Certificate> enc;
  if (key->encryption_key) {
    // An RA with usage keys: the next encryption certificate was stored beside it.
    auto enc_der = rt.store->meta(kMetaRolloverRaEncryptionCert);
    if (!enc_der.has_value()) return enc_der.error();
    if (!enc_der->has_value()) {
      return not_found(fmt::format(
          "The rollover RA encryption certificate is not in the database (crypto pki server {} "
          "rollover cancel deletes the rollover certificate).",
          label_));
    }
    ASSIGN_OR_RETURN(enc, pki::Certificate::from_der(**enc_der));
  }
  // An RA's shadow issues nothing: it only signs and decrypts after the switch.
  std::shared_ptr<Issuer> issuer =
      rt.issuer ? std::make_shared<Issuer>(*rt.store, cert, key->key, deps_.clock, deps_.ocsp_url)
                : nullptr;
  std::vector<pki::Certificate> chain = shadow_chain(cert);
  rt.set_shadow(std::make_shared<const Runtime::Shadow>(
      Runtime::Shadow{cert, key->key, std::move(issuer), std::move(chain), std::move(enc)}));
  return ok_status();
}

std::vector<pki::Certificate> CertificateServer::shadow_chain(const pki::Certificate& cert) const {
  if (config().mode == ServerMode::kRoot || !deps_.superior_state) return {};
  std::optional<EnrollmentState> state = deps_.superior_state();
  if (!state || !state->ca) return {};
  // Issued under the superior's next certificate: the next chain; else the current one.
  if (state->next_ca && cert.signed_by(state->next_ca->issuing_ca())) {
    return state->next_ca->ca_chain;
  }
  return state->ca->ca_chain;
}

Status CertificateServer::request_shadow(Runtime& rt, const ServerConfig& cfg,
                                         const std::string& archive_password) {
  if (Status s = rollover_key_here(*rt.ca_key); !s.ok()) return s;
  if (rt.shadow()) {
    return already_exists(fmt::format(
        "A rollover certificate exists already (crypto pki server {} rollover cancel deletes "
        "it).",
        label_));
  }
  if (!deps_.superior_state || !deps_.superior_rollover) {
    return unavailable("This scepterd has no SCEP client to reach a superior CA.");
  }
  const bool ra = is_ra_mode(cfg);
  const std::string& password = archive_password;
  if (!ra && cfg.archive_enabled && password.empty()) return no_archive_password(label_);
  std::optional<EnrollmentState> state = deps_.superior_state();
  if (state && state->rollover_granted()) return adopt_shadow(rt, cfg, password);
  if (state && state->pending && state->pending->rollover) {
    return ok_status();  // asked already: the superior's answer is polled for
  }
  EnrollOptions request;
  request.ca_request = !ra;
  request.ra_request = ra;
  ASSIGN_OR_RETURN(EnrollResult sent, deps_.superior_rollover(request));
  if (sent.status == UpstreamReply::Status::kFailure) {
    return permission_denied("The superior CA refused the rollover request: " + sent.error);
  }
  if (sent.status == UpstreamReply::Status::kSuccess) return adopt_shadow(rt, cfg, password);
  log::info(
      "certificate server {}: rollover certificate requested from the superior CA (fingerprint "
      "{}); waiting for its grant",
      label_, pki::ios_fingerprint(sent.fingerprint_md5));
  return ok_status();
}

Status CertificateServer::adopt_shadow(Runtime& rt, const ServerConfig& cfg,
                                       const std::string& archive_password) {
  std::optional<EnrollmentState> state = deps_.superior_state();
  if (!state || !state->rollover_granted()) {
    return not_found("The superior CA has not granted the rollover certificate yet.");
  }
  const pki::Certificate cert = *state->rollover_certificate;
  const pki::Certificate& current = *rt.ca_cert;
  std::optional<KeyEntry> key = deps_.keys.get(shadow_key_label());
  auto cert_key = cert.public_key();
  if (!key || !cert_key.has_value() || !key->key.equals_public(*cert_key)) {
    return invalid_argument(
        fmt::format("The rollover certificate from the superior CA is not for the key {}.",
                    shadow_key_label()));
  }
  const bool ra = is_ra_mode(cfg);
  if (ra ? cert.is_ca() || !is_ra_certificate_name(cert.subject()) : !cert.is_ca()) {
    return invalid_argument(
        fmt::format("The rollover certificate from the superior CA is not {} certificate.",
                    ra ? "an RA" : "a CA"));
  }
  // An RA with usage keys: the encryption certificate of the new pair, as the current
  // one is checked at enabling.
  std::optional<pki::Certificate> enc;
  if (ra && key->encryption_key) {
    if (!state->rollover_encryption_certificate) {
      return not_found("The superior CA has not granted the rollover encryption certificate.");
    }
    enc = *state->rollover_encryption_certificate;
    auto enc_key = enc->public_key();
    if (!enc_key.has_value() || !enc_key->equals_public(*key->encryption_key) || enc->is_ca() ||
        !is_ra_certificate_name(enc->subject())) {
      return invalid_argument(fmt::format(
          "The rollover encryption certificate from the superior CA is not an RA certificate "
          "for the encryption key of {}.",
          shadow_key_label()));
    }
  }
  const TimePoint ends = enc ? std::min(cert.not_after(), enc->not_after()) : cert.not_after();
  if (ends <= current.not_after()) {
    // Of no use: forgotten, so that the next attempt asks again.
    if (deps_.superior_cancel_rollover) (void)deps_.superior_cancel_rollover();
    return permission_denied(fmt::format(
        "The rollover certificate from the superior CA ends ({}) no later than the current one: "
        "the superior CA must roll over first.",
        format_ios_time(ends)));
  }
  if (!ra && cfg.archive_enabled) {
    if (archive_password.empty()) return no_archive_password(label_);
    RETURN_IF_ERROR(write_archive(cfg, cert, key->key, archive_password, archive_name(label_)));
  }
  store::WriteBatch batch;
  batch.put_meta(kMetaRolloverCert, cert.der());
  if (enc) batch.put_meta(kMetaRolloverRaEncryptionCert, enc->der());
  RETURN_IF_ERROR(rt.store->write(batch));
  std::shared_ptr<Issuer> issuer =
      rt.issuer ? std::make_shared<Issuer>(*rt.store, cert, key->key, deps_.clock, deps_.ocsp_url)
                : nullptr;
  rt.set_shadow(std::make_shared<const Runtime::Shadow>(
      Runtime::Shadow{cert, key->key, std::move(issuer), shadow_chain(cert), std::move(enc)}));
  log::info(
      "%PKI-6-CS_ROLLOVER_AVAILABLE: [Sub/RA]CS Rollover certificate has been generated for {}, "
      "and it will be active at {}",
      label_, format_ios_time(current.not_after()));
  return ok_status();
}

Status CertificateServer::start_rollover(const std::string& archive_password) {
  auto rt = runtime();
  if (!rt) return unavailable("The certificate server is not enabled.");
  const ServerConfig cfg = config();
  if (rt->store->shared()) return shared_rollover_refused(label_);
  MutexLock op(rt->rollover_op_mu);
  if (cfg.mode == ServerMode::kRoot) return make_shadow(*rt, cfg, archive_password);
  // Kept for a grant that comes later (archived then).
  if (!archive_password.empty()) rt->rollover_password = archive_password;
  Status s = request_shadow(
      *rt, cfg, cfg.archive_password.empty() ? rt->rollover_password : cfg.archive_password);
  if (rt->shadow()) rt->rollover_password.clear();
  return s;
}

Status CertificateServer::cancel_rollover() {
  auto rt = runtime();
  if (!rt) return unavailable("The certificate server is not enabled.");
  MutexLock op(rt->rollover_op_mu);
  bool requested = false;
  if (config().mode != ServerMode::kRoot && deps_.superior_state) {
    std::optional<EnrollmentState> state = deps_.superior_state();
    requested =
        state && (state->rollover_certificate || (state->pending && state->pending->rollover));
  }
  if (!rt->shadow() && !requested) {
    return not_found("There is no rollover CA certificate to cancel.");
  }
  // The database first: without the meta, a key left behind by a crash is ignored.
  store::WriteBatch batch;
  batch.delete_meta(kMetaRolloverCert);
  batch.delete_meta(kMetaRolloverRaEncryptionCert);
  RETURN_IF_ERROR(rt->store->write(batch));
  rt->set_shadow(nullptr);
  rt->rollover_password.clear();
  if (requested && deps_.superior_cancel_rollover) {
    if (Status s = deps_.superior_cancel_rollover(); !s.ok()) {
      log::warn("certificate server {}: the rollover request could not be forgotten: {}", label_,
                s.message());
    }
  }
  if (std::optional<KeyEntry> shadow = deps_.keys.get(shadow_key_label());
      shadow && !shadow->device.empty()) {
    if (Status s = forget_on_token(shadow->device, shadow->object_label()); !s.ok()) {
      log::warn("certificate server {}: the rollover key could not be deleted from token {}: {}",
                label_, shadow->device, s.message());
    }
  }
  if (Status s = deps_.keys.remove(shadow_key_label()); !s.ok() && s.code() != Code::kNotFound) {
    log::warn("certificate server {}: the rollover key could not be deleted: {}", label_,
              s.message());
  }
  const ServerConfig cfg = config();
  files::FileSet files = file_set(cfg);
  const std::string name = archive_name(label_);
  for (auto [type, ext] :
       {std::pair{files::FileType::kP12, ".p12"}, std::pair{files::FileType::kPem, ".pem"}}) {
    // A file server that cannot delete (tftp, scp) keeps it: said, as the guide tells.
    if (Status s = files.remove(type, name + ext); !s.ok() && s.code() != Code::kNotFound) {
      log::warn("certificate server {}: the rollover archive {}{} stays: {}", label_, name, ext,
                s.message());
    }
  }
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

std::vector<pki::Certificate> CertificateServer::rollover_chain() const {
  auto rt = runtime();
  if (!rt) return {};
  auto shadow = rt->shadow();
  if (!shadow) return {};
  // As GetCACert orders them: an RA with usage keys, its signature then its encryption
  // certificate.
  std::vector<pki::Certificate> out{shadow->cert};
  if (shadow->encryption_cert) out.push_back(*shadow->encryption_cert);
  out.insert(out.end(), shadow->chain.begin(), shadow->chain.end());
  return out;
}

Status CertificateServer::switch_to_shadow(Runtime& rt, const ServerConfig& cfg) {
  auto shadow = rt.shadow();
  if (!shadow) return not_found("no rollover certificate");
  const pki::Certificate old = *rt.ca_cert;
  store::WriteBatch batch;
  batch.put_meta(kMetaCaCert, shadow->cert.der());
  batch.delete_meta(kMetaRolloverCert);
  if (shadow->encryption_cert) {
    batch.put_meta(kMetaRaEncryptionCert, shadow->encryption_cert->der());
    batch.delete_meta(kMetaRolloverRaEncryptionCert);
  }
  RETURN_IF_ERROR(rt.store->write(batch));
  // From here on the new certificate is the CA's: what follows is finished by a restart
  // if it is interrupted.
  RETURN_IF_ERROR(finish_interrupted_switch(shadow->cert));
  if (cfg.mode != ServerMode::kRoot && deps_.superior_promote) {
    // The trustpoint's certificate (and CA, when the superior rolled over too) follow.
    RETURN_IF_ERROR(deps_.superior_promote());
  }
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
  if (deps_.audit != nullptr) {
    deps_.audit->record({"rollover", "scepterd", label_,
                         fmt::format("the rollover CA certificate 0x{} replaces 0x{}",
                                     shadow->cert.serial_hex(), old.serial_hex()),
                         "ok"});
  }
  log::info(
      "%PKI-6-CS_ROLLOVER_ACTIVE: [Sub/RA]CS Rollover certificate has been activated for {}, "
      "replacing the previous [Sub/RA]CA certificate (serial {}, expired {})",
      label_, old.serial_hex(), format_ios_time(old.not_after()));
  return ok_status();
}

Status CertificateServer::forget_on_token(const std::string& device,
                                          const std::string& token_label) {
  if (deps_.tokens == nullptr) return unavailable("This scepterd has no tokens.");
  ASSIGN_OR_RETURN(std::shared_ptr<pki::Token> token, deps_.tokens->open(device));
  Status s = token->remove(token_label);
  return s.code() == Code::kNotFound ? ok_status() : s;
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
    // On a token the key keeps the label it was made with there.
    if (!entry.device.empty()) entry.token_label = shadow->object_label();
    if (entry.token_label == label_) entry.token_label.clear();
    RETURN_IF_ERROR(deps_.keys.put(entry));
    if (current && !current->device.empty() && current->object_label() != entry.object_label()) {
      // The old CA key, whose certificate has expired, goes from the token as it goes
      // from the key store.
      if (Status s = forget_on_token(current->device, current->object_label()); !s.ok()) {
        log::warn("certificate server {}: the old CA key {} stays on token {}: {}", label_,
                  current->object_label(), current->device, s.message());
      }
    }
  }
  if (Status s = deps_.keys.remove(shadow_key_label()); !s.ok() && s.code() != Code::kNotFound) {
    return s;
  }
  return fs::write_atomic(trustpoint_cert_path(), ca_cert.der());
}

void CertificateServer::rollover_tick(const std::shared_ptr<Runtime>& rt) {
  if (state() != ServerState::kEnabled) return;  // not issuing
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
    remember_last_serial();
    runtime_.reset();
    return;
  }
  if (rt->shadow()) return;
  const bool subordinate = cfg.mode != ServerMode::kRoot;
  // A subordinate's rollover certificate granted since the last tick.
  bool granted = false;
  if (subordinate && deps_.superior_state) {
    std::optional<EnrollmentState> state = deps_.superior_state();
    granted = state && state->rollover_granted();
  }
  const bool due = cfg.auto_rollover_days &&
                   now >= current.not_after() - std::chrono::days(*cfg.auto_rollover_days);
  if (!granted && !due) return;
  const std::int64_t now_s = to_unix(now);
  const std::int64_t last = rt->last_rollover_attempt.load();
  if (last != 0 && now_s >= last && now_s - last < kRolloverRetrySeconds) return;
  Status s;
  {
    MutexLock op(rt->rollover_op_mu);
    if (rt->shadow()) {
      s = ok_status();
    } else if (subordinate) {
      // Asks the superior (a request already waiting is left to the trustpoint's polls),
      // or installs what it granted.
      const std::string password =
          cfg.archive_password.empty() ? rt->rollover_password : cfg.archive_password;
      s = granted ? adopt_shadow(*rt, cfg, password) : request_shadow(*rt, cfg, password);
      if (rt->shadow()) rt->rollover_password.clear();
    } else {
      s = make_shadow(*rt, cfg, {});
    }
  }
  if (!s.ok()) {
    rt->last_rollover_attempt = now_s;  // tried again an hour later
    log::error("%PKI-3-CS_ROLLOVER_FAIL: certificate server {}: no rollover: {}", label_,
               s.message());
  }
}

}  // namespace scepter::ca
