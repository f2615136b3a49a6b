// CertificateServer: the enabling checks that `no shutdown` and the timer's retries run
// before the server is enabled, and the first-time generation they lead to.

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/server_runtime.h"
#include "common/fs.h"
#include "common/log.h"
#include "pki/name.h"

namespace scepter::ca {

// The enabling checks and the first-time generation, outside mu_. Returns the runtime
// to publish, or the failure and the life-cycle event it stands for.
CertificateServer::Prepared CertificateServer::prepare(const ServerConfig& cfg,
                                                       const EnableOptions& options) {
  Prepared p;
  auto fail_with = [&](Status s, LifeEvent event = LifeEvent::kCheckFailed) -> Prepared {
    p.failure = std::move(s);
    p.event = event;
    p.runtime.reset();
    return std::move(p);
  };
  if (to_unix(deps_.clock.now()) < kEarliestValidTime) {
    return fail_with(unavailable("Time has not been set. Cannot start the Certificate server."),
                     LifeEvent::kClockInvalid);
  }
  if (std::string revoked = superior_revocation(); !revoked.empty()) {
    return fail_with(permission_denied(revoked), LifeEvent::kNeedsOperator);
  }
  // `issuer-name` takes any line, as on IOS; this is where a non-DN is refused.
  if (auto issuer = pki::parse_dn(cfg.effective_issuer()); !issuer.has_value()) {
    return fail_with(issuer.error());
  }
  if (Status s = check_storage(cfg); !s.ok()) return fail_with(s);
  files::FileSet files = file_set(cfg);
  auto rt = std::make_shared<Runtime>();
  // The main database: LABEL.ser in a local directory, or on a PostgreSQL server.
  const bool db_server = files::is_database_server_url(files.url_for(files::FileType::kSer));
  auto db_url = files.database_url(label_ + ".ser");
  if (!db_url.has_value()) return fail_with(db_url.error());
  const std::string ser_path = db_server ? std::string() : db_url->substr(7);  // "sqlite:"
  const std::string db_shown = db_server ? files::redact_url(*db_url)
                                         : files.url_for(files::FileType::kSer) + label_ + ".ser";
  const bool ca_exists = has_ca_certificate();
  if (is_ra_mode(cfg) && cfg.serial_number_above != 0) {
    return fail_with(
        invalid_argument("serial-number is for a CA: an RA issues no serial numbers (enter \"no "
                         "serial-number\")."));
  }
  if (ca_exists && !db_server && !fs::exists(ser_path) && cfg.serial_number_above == 0) {
    // Do not create an empty database next to an existing CA: a new serial sequence
    // would repeat serials already issued. A CA moved from another server says where its
    // serials go on with `serial-number`.
    return fail_with(unavailable(
        fmt::format("The CA certificate exists but there is no database {}; move the existing "
                    "database to the new location (or, for a CA moved from another server, set "
                    "\"serial-number\" to the last serial number it issued there).",
                    db_shown)));
  }
  if (!ca_exists && needs_archive_password(cfg) && options.archive_password.empty()) {
    return fail_with(permission_denied("The CA key archive needs a password: enter \"no "
                                       "shutdown\" on the console to give it."),
                     LifeEvent::kNeedsOperator);
  }
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: file opened: {}", db_shown);
  auto open_store = [&]() -> Status {
    rt->store.reset();
    auto store =
        deps_.open_store && !db_server ? deps_.open_store(ser_path) : store::open_store({*db_url});
    if (!store.has_value()) return unavailable("Storage inaccessible: " + store.error().message());
    rt->store = std::move(*store);
    return ok_status();
  };
  if (Status s = open_store(); !s.ok()) return fail_with(s);
  if (rt->store->shared() && cfg.auto_rollover_days) {
    return fail_with(shared_rollover_refused(label_), LifeEvent::kNeedsOperator);
  }
  // Several nodes may serve one database, but one at a time sets it up (generates the CA,
  // adopts a moved one): the others wait for the role, and are retried.
  auto enabling = rt->store->try_take_role("enable:" + label_);
  if (!enabling.has_value()) {
    return fail_with(unavailable("Storage inaccessible: " + enabling.error().message()));
  }
  if (*enabling == nullptr) {
    return fail_with(unavailable(fmt::format(
        "Another scepterd is enabling certificate server {} on the database {}; retrying.", label_,
        db_shown)));
  }

  auto ca_der = rt->store->meta(kMetaCaCert);
  if (!ca_der.has_value()) return fail_with(ca_der.error());
  if (!ca_der->has_value() && ca_exists && cfg.serial_number_above != 0) {
    // A CA moved here: its key and certificate were imported, its database starts now.
    if (Status s = adopt_ca(*rt, cfg, files); !s.ok()) return fail_with(s);
    // Opened again: the serial allocator takes its floor from the database at open.
    if (Status s = open_store(); !s.ok()) return fail_with(s);
    ca_der = rt->store->meta(kMetaCaCert);
    if (!ca_der.has_value()) return fail_with(ca_der.error());
  }
  if (!ca_der->has_value()) {
    if (ca_exists) {
      return fail_with(unavailable(
          fmt::format("The CA certificate exists but the database {} does not hold it; move the "
                      "existing database to the new location.",
                      db_shown)));
    }
    if (cfg.mode == ServerMode::kSubCs || is_ra_mode(cfg)) {
      LifeEvent event = LifeEvent::kCheckFailed;
      Status s = obtain_superior_ca(*rt, cfg, p.report, options, event);
      if (!s.ok()) return fail_with(s, event);
    } else {
      Status s = generate_ca(*rt, cfg, p.report, options);
      if (!s.ok()) return fail_with(s);
    }
  } else {
    log::trace(log::Category::kPkiServer, "CRYPTO_CS: found existing serial file.");
    auto cert = pki::Certificate::from_der(**ca_der);
    if (!cert.has_value()) return fail_with(cert.error());
    auto key = deps_.keys.get(label_);
    auto cert_key = cert->public_key();
    if (cert_key.has_value() && (!key || !key->key.equals_public(*cert_key))) {
      auto next = rt->store->meta(kMetaRolloverCert);
      std::optional<pki::Certificate> shadow;
      if (next.has_value() && next->has_value()) {
        if (auto c = pki::Certificate::from_der(**next); c.has_value()) shadow = std::move(*c);
      }
      auto shadow_key = shadow ? shadow->public_key() : Result<pki::Key>(fail(not_found("")));
      if (key && shadow && shadow_key.has_value() && key->key.equals_public(*shadow_key)) {
        // The key store took the shadow key before the database took its certificate (a
        // subordinate's trustpoint moved it): the database follows.
        store::WriteBatch batch;
        batch.put_meta(kMetaCaCert, shadow->der());
        batch.delete_meta(kMetaRolloverCert);
        // An RA with usage keys: the encryption certificate follows too.
        auto enc = rt->store->meta(kMetaRolloverRaEncryptionCert);
        if (!enc.has_value()) return fail_with(enc.error());
        if (enc->has_value()) {
          batch.put_meta(kMetaRaEncryptionCert, **enc);
          batch.delete_meta(kMetaRolloverRaEncryptionCert);
        }
        if (Status s = rt->store->write(batch); !s.ok()) return fail_with(s);
        cert = std::move(*shadow);
        cert_key = cert->public_key();
      }
      // A rollover interrupted between the database and the key store: finish it.
      if (deps_.keys.get(shadow_key_label())) {
        if (Status s = finish_interrupted_switch(*cert); s.ok()) {
          log::info("certificate server {}: the interrupted rollover was completed", label_);
          key = deps_.keys.get(label_);
        }
      }
    }
    if (!key.has_value()) {
      return fail_with(not_found("The CA key " + label_ + " does not exist."));
    }
    if (!cert_key.has_value() || !key->key.equals_public(*cert_key)) {
      return fail_with(
          invalid_argument("The key " + label_ + " does not match the CA certificate."));
    }
    if (Status s = usable_ca_key(*key); !s.ok()) return fail_with(s);
    // The issuer name is fixed by the certificate; a configuration that lost it (never
    // saved) shows the truth.
    // (An RA's certificate is named by its trustpoint, not by issuer-name.)
    std::string issuer = pki::format_dn_config(cert->subject());
    if (cfg.effective_issuer() != issuer && !is_ra_mode(cfg)) p.issuer_name = issuer;
    rt->ca_cert = std::move(*cert);
    rt->ca_key = key->key;
    if (is_ra_mode(cfg) && key->encryption_key) {
      // Usage keys: the encryption certificate was stored beside the signature one.
      auto enc_der = rt->store->meta(kMetaRaEncryptionCert);
      if (!enc_der.has_value()) return fail_with(enc_der.error());
      if (!enc_der->has_value()) {
        return fail_with(not_found("The RA encryption certificate of " + label_ +
                                   " is not in the database; enrol the RA again."));
      }
      auto enc = pki::Certificate::from_der(**enc_der);
      if (!enc.has_value()) return fail_with(enc.error());
      if (Status s = use_ra_encryption(*rt, *enc, *key); !s.ok()) return fail_with(s);
    }
    if ((cfg.mode == ServerMode::kSubCs || is_ra_mode(cfg)) && deps_.superior_state) {
      auto state = deps_.superior_state();
      if (state && state->rollover_certificate && *state->rollover_certificate == *rt->ca_cert &&
          deps_.superior_promote) {
        // A switch interrupted before the trustpoint took the rollover certificate.
        if (Status s = deps_.superior_promote(); !s.ok()) return fail_with(s);
        state = deps_.superior_state();
      }
      // The chain to the root, as the trustpoint authenticated it.
      if (state && state->ca) rt->upper_chain = state->ca->ca_chain;
    }
    if (!fs::exists(trustpoint_cert_path())) {
      Status s = fs::write_atomic(trustpoint_cert_path(), rt->ca_cert->der());
      if (!s.ok()) return fail_with(s);
    }
  }
  if (cfg.serial_number_above != 0) {
    // The allocator reads the floor when the database opens: opened again after a raise.
    auto raised = raise_serial_floor(*rt, cfg);
    if (!raised.has_value()) return fail_with(raised.error());
    if (*raised) {
      if (Status s = open_store(); !s.ok()) return fail_with(s);
    }
  }
  if (is_ra_mode(cfg)) {
    // An RA has no serials and no CRL of its own: its granted requests go upstream.
    if (!deps_.upstream) {
      return fail_with(unavailable("This scepterd has no SCEP client to reach the issuing CA."));
    }
    rt->forwarder =
        std::make_unique<RaForwarder>(*deps_.upstream, deps_.clock, *rt->ca_cert, *rt->ca_key,
                                      cfg.mode == ServerMode::kRaTransparent);
    rt->otp = std::make_unique<OtpStore>(*rt->store, deps_.clock);
    if (Status s = rt->otp->load(); !s.ok()) return fail_with(s);
    if (Status s = load_shadow(*rt); !s.ok()) {
      // Enabling goes on: the superior's grant is adopted again at the next tick.
      log::error("certificate server {}: the rollover RA certificate is not usable: {}", label_,
                 s.message());
    }
    p.runtime = std::move(rt);
    return p;
  }
  rt->issuer =
      std::make_unique<Issuer>(*rt->store, *rt->ca_cert, *rt->ca_key, deps_.clock, deps_.ocsp_url);
  auto last = rt->store->last_serial();
  if (!last.has_value()) return fail_with(last.error());
  // "Last certificate issued": a moved CA's last serial before its first one here.
  auto used = serials_used(*rt->store);
  if (!used.has_value()) return fail_with(used.error());
  rt->issuer->note_issued(*used);
  if (Status s = repair_recent_cert_files(*rt, cfg, *last); !s.ok()) return fail_with(s);
  if (Status s = setup_scep_encryption(*rt, cfg, p.report); !s.ok()) return fail_with(s);
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: last issued serial number is 0x{:X}", *last);
  rt->otp = std::make_unique<OtpStore>(*rt->store, deps_.clock);
  if (Status s = rt->otp->load(); !s.ok()) return fail_with(s);
  rt->crl =
      std::make_unique<CrlPublisher>(*rt->store, *rt->ca_cert, *rt->ca_key, deps_.clock, label_);
  if (Status s = rt->crl->load(cfg, files); !s.ok()) return fail_with(s);
  if (Status s = setup_ocsp(*rt, cfg); !s.ok()) return fail_with(s);
  if (Status s = load_shadow(*rt); !s.ok()) {
    // Enabling goes on: the timer (or the operator) makes another one.
    log::error("certificate server {}: the rollover CA certificate is not usable: {}", label_,
               s.message());
  }
  p.runtime = std::move(rt);
  return p;
}

std::string CertificateServer::superior_revocation() const {
  const ServerConfig cfg = config();
  if (cfg.mode != ServerMode::kSubCs && !is_ra_mode(cfg)) return {};
  if (!deps_.superior_state) return {};
  std::optional<EnrollmentState> s = deps_.superior_state();
  if (!s || !s->revoked_at || !s->certificate) return {};
  return fmt::format(
      "The superior CA revoked this server's certificate (serial {}); it issues nothing more.",
      s->certificate->serial_hex());
}

}  // namespace scepter::ca
