#include "ca/certificate_server.h"

#include <fmt/format.h>

#include "ca/server_runtime.h"
#include "common/fs.h"
#include "common/log.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

// A clock before this is not calendar-valid: the CA would issue certificates from the
// past. IOS refuses to start the server in that case ("Time has not been set").
constexpr std::int64_t kEarliestValidTime = 1577836800;  // 2020-01-01T00:00:00Z

// Whether `cert`, the server's own certificate, is one a server in `mode` has: a root's
// is a self-signed CA certificate, a subordinate CA's a CA certificate from its
// superior, an RA's no CA certificate at all.
bool mode_fits_certificate(ServerMode mode, const pki::Certificate& cert) {
  switch (mode) {
    case ServerMode::kRoot:
      return cert.is_ca() && cert.signed_by(cert);
    case ServerMode::kSubCs:
      return cert.is_ca() && !cert.signed_by(cert);
    case ServerMode::kRa:
    case ServerMode::kRaTransparent:
      return !cert.is_ca();
  }
  return false;
}

}  // namespace

const char* grant_mode_text(GrantMode mode) {
  switch (mode) {
    case GrantMode::kManual:
      return "manual";
    case GrantMode::kAuto:
      return "auto";
    case GrantMode::kNone:
      return "none";
    case GrantMode::kRaAuto:
      return "auto for RA-authorized requests, manual otherwise";
  }
  return "manual";
}

CertificateServer::CertificateServer(ServerConfig config, ServerDeps deps)
    : label_(config.label), deps_(std::move(deps)), config_(std::move(config)) {
  // Copies that waited for a file server when the process stopped go out now.
  if (deps_.remote != nullptr && fs::exists(publish_spool_dir())) (void)publish_queue();
}

CertificateServer::~CertificateServer() = default;

ServerConfig CertificateServer::config() const {
  MutexLock lock(mu_);
  return config_;
}

std::string CertificateServer::trustpoint_cert_path() const {
  // IOS keeps the CA certificate in the trustpoint as nvram:<label>#<serial>CA.cer.
  return deps_.trustpoint_dir + "/" + label_ + "#1CA.cer";
}

Result<std::string> CertificateServer::database_path() const {
  return file_set(config()).path_for(files::FileType::kSer, label_ + ".ser");
}

bool CertificateServer::has_ca_certificate() const { return fs::exists(trustpoint_cert_path()); }

std::optional<pki::Certificate> CertificateServer::stored_ca_certificate() const {
  auto der = fs::read_file(trustpoint_cert_path());
  if (!der.has_value()) return std::nullopt;
  auto cert = pki::Certificate::from_der(*der);
  if (!cert.has_value()) return std::nullopt;
  return std::move(*cert);
}

bool CertificateServer::needs_archive_password() const {
  return !has_ca_certificate() && needs_archive_password(config());
}

bool CertificateServer::needs_archive_password(const ServerConfig& cfg) const {
  if (!cfg.archive_enabled || !cfg.archive_password.empty() || is_ra_mode(cfg)) return false;
  // An operator's key that is not exportable is not archived (see generate_ca).
  auto key = deps_.keys.get(label_);
  return !key.has_value() || key->exportable;
}

Status CertificateServer::set_config(const ServerConfig& next) {
  MutexLock lock(mu_);
  const ServerConfig& cur = config_;
  const bool running = state_ != ServerState::kDisabled;
  if (running) {
    bool storage_changed = next.locations.primary != cur.locations.primary ||
                           next.locations.storage != cur.locations.storage ||
                           next.archive_enabled != cur.archive_enabled ||
                           next.archive_format != cur.archive_format ||
                           next.serial_number_above != cur.serial_number_above;
    if (storage_changed) {
      return permission_denied("Server's configuration is locked (enter \"shut\" to unlock it).");
    }
  }
  if (auto ca = stored_ca_certificate(); ca.has_value()) {
    // A change back to what the CA certificate holds is allowed: at start-up the
    // configuration is loaded line by line into a server whose CA already exists.
    auto issuer = pki::parse_dn(next.effective_issuer());
    const bool issuer_is_ca = issuer.has_value() && pki::format_dn_config(issuer->get()) ==
                                                        pki::format_dn_config(ca->subject());
    if (next.effective_issuer() != cur.effective_issuer() && !issuer_is_ca) {
      return permission_denied(
          "The issuer name cannot be changed after CA certificate generation.");
    }
    const auto ca_days =
        std::chrono::floor<std::chrono::days>(ca->not_after() - ca->not_before()).count();
    if (next.ca_lifetime_days != cur.ca_lifetime_days && next.ca_lifetime_days != ca_days) {
      return permission_denied(
          "The CA certificate lifetime cannot be changed after CA certificate generation.");
    }
    // The certificate says what the server is; at start-up the configuration's `mode`
    // line comes after the certificate exists, and must be taken.
    if (next.mode != cur.mode && !mode_fits_certificate(next.mode, *ca)) {
      return permission_denied(
          "The server mode cannot be changed after CA certificate generation.");
    }
  }
  if (is_ra_mode(next) && !next.ekus.empty()) {
    // Accepted, it would do nothing: the issuing CA decides what an RA's requests get.
    return invalid_argument(
        "eku is for a CA: in RA mode the issuing CA decides the extended key usages (enter "
        "\"no eku\").");
  }
  if (next.cert_lifetime_days > next.max_cert_lifetime_days()) {
    return invalid_argument(fmt::format(
        "The certificate lifetime must be at most the CA certificate lifetime less {} days "
        "({} days).",
        kCertMarginDays, next.max_cert_lifetime_days()));
  }
  config_ = next;
  return ok_status();
}

ServerState CertificateServer::state() const {
  MutexLock lock(mu_);
  return state_;
}

std::string CertificateServer::reason() const {
  MutexLock lock(mu_);
  return reason_;
}

std::shared_ptr<CertificateServer::Runtime> CertificateServer::runtime() const {
  MutexLock lock(mu_);
  if (state_ != ServerState::kEnabled) return nullptr;
  return runtime_;
}

void CertificateServer::transition(LifeEvent event, std::string reason) {
  const auto to = next_state(state_, event);
  CA_ASSERT(to.has_value(), "certificate server life cycle: no such transition");
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: FSM: {} --{}--> {}", server_state_name(state_),
             life_event_name(event), server_state_name(*to));
  state_ = *to;
  reason_ = std::move(reason);
}

Result<EnableReport> CertificateServer::enable(const EnableOptions& options) {
  // One enabling run at a time (the operator's, or the timer's retry); show and SCEP only
  // take mu_, for a moment, and are never blocked by key generation or database work.
  MutexLock run(enable_mu_);
  return enable_run(options, LifeEvent::kNoShutdown);
}

Result<EnableReport> CertificateServer::enable_run(const EnableOptions& options,
                                                   LifeEvent trigger) {
  EnableOptions opts = options;
  ServerConfig cfg;
  std::uint64_t generation = 0;
  {
    MutexLock lock(mu_);
    want_enabled_ = true;
    config_.shutdown = false;
    if (state_ == ServerState::kEnabled) return EnableReport{};
    if (state_ == ServerState::kCheckFailed && runtime_) {
      // A critical failure with the state intact: recovery is the timer's (tick()).
      return fail(unavailable(reason_));
    }
    if (!next_state(state_, trigger).has_value()) {
      return fail(
          unavailable(fmt::format("The certificate server is {}.", server_state_name(state_))));
    }
    // The timer's retry keeps the last failure on show until the checks answer again, so
    // that `show crypto pki server` does not lose the reason for the second they run.
    transition(trigger, trigger == LifeEvent::kRetry ? reason_ : std::string());
    cfg = config_;
    generation = ++generation_;
    if (!opts.archive_password.empty()) {
      pending_archive_password_ = opts.archive_password;
    } else {
      opts.archive_password = pending_archive_password_;
    }
  }
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: starting enabling checks");
  Prepared p = prepare(cfg, opts);

  MutexLock lock(mu_);
  if (generation != generation_ || state_ != ServerState::kChecking) {
    // `shutdown` while the checks ran: their result is void.
    return fail(unavailable("The certificate server was shut down."));
  }
  if (!p.failure.ok()) {
    // The timer retries every second: log a reason once, not at every retry.
    if (p.failure.message() != last_failure_) {
      if (p.event == LifeEvent::kNeedsSuperior) {
        // Not a failure: the superior's operator has not decided yet.
        log::info("certificate server {}: {}", label_, p.failure.message());
      } else {
        log::warn("certificate server {}: enabling check failed: {}", label_, p.failure.message());
      }
      last_failure_ = p.failure.message();
    }
    transition(p.event, p.event == LifeEvent::kClockInvalid ? "waiting for time setting"
                                                            : p.failure.message());
    return fail(p.failure);
  }
  if (!p.issuer_name.empty()) config_.issuer_name = p.issuer_name;
  pending_archive_password_.clear();
  runtime_ = std::move(p.runtime);
  last_failure_.clear();
  transition(LifeEvent::kChecksPassed);
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: SCEP server started");
  log::info("%PKI-6-CS_ENABLED: Certificate server {} now enabled.", label_);
  return p.report;
}

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
  auto ser_path = files.path_for(files::FileType::kSer, label_ + ".ser");
  if (!ser_path.has_value()) return fail_with(ser_path.error());
  const bool ca_exists = has_ca_certificate();
  if (is_ra_mode(cfg) && cfg.serial_number_above != 0) {
    return fail_with(
        invalid_argument("serial-number is for a CA: an RA issues no serial numbers (enter \"no "
                         "serial-number\")."));
  }
  if (ca_exists && !fs::exists(*ser_path) && cfg.serial_number_above == 0) {
    // Do not create an empty database next to an existing CA: a new serial sequence
    // would repeat serials already issued. A CA moved from another server says where its
    // serials go on with `serial-number`.
    return fail_with(unavailable(fmt::format(
        "The CA certificate exists but there is no database {}{}.ser; move the existing "
        "database to the new location (or, for a CA moved from another server, set "
        "\"serial-number\" to the last serial number it issued there).",
        files.url_for(files::FileType::kSer), label_)));
  }
  if (!ca_exists && needs_archive_password(cfg) && options.archive_password.empty()) {
    return fail_with(permission_denied("The CA key archive needs a password: enter \"no "
                                       "shutdown\" on the console to give it."),
                     LifeEvent::kNeedsOperator);
  }
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: file opened: {}{}.ser",
             files.url_for(files::FileType::kSer), label_);
  auto open_store = [&]() -> Status {
    rt->store.reset();
    auto store =
        deps_.open_store ? deps_.open_store(*ser_path) : store::open_store({"sqlite:" + *ser_path});
    if (!store.has_value()) return unavailable("Storage inaccessible: " + store.error().message());
    rt->store = std::move(*store);
    return ok_status();
  };
  if (Status s = open_store(); !s.ok()) return fail_with(s);

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
      return fail_with(unavailable(fmt::format(
          "The CA certificate exists but the database {}{}.ser does not hold it; move the "
          "existing database to the new location.",
          files.url_for(files::FileType::kSer), label_)));
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
  rt->issuer = std::make_unique<Issuer>(*rt->store, *rt->ca_cert, *rt->ca_key, deps_.clock);
  auto last = rt->store->last_serial();
  if (!last.has_value()) return fail_with(last.error());
  // "Last certificate issued": a moved CA's last serial before its first one here.
  auto used = serials_used(*rt->store);
  if (!used.has_value()) return fail_with(used.error());
  rt->issuer->note_issued(*used);
  if (Status s = repair_recent_cert_files(*rt, cfg, *last); !s.ok()) return fail_with(s);
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: last issued serial number is 0x{:X}", *last);
  rt->otp = std::make_unique<OtpStore>(*rt->store, deps_.clock);
  if (Status s = rt->otp->load(); !s.ok()) return fail_with(s);
  rt->crl =
      std::make_unique<CrlPublisher>(*rt->store, *rt->ca_cert, *rt->ca_key, deps_.clock, label_);
  if (Status s = rt->crl->load(cfg, files); !s.ok()) return fail_with(s);
  if (Status s = load_shadow(*rt); !s.ok()) {
    // Enabling goes on: the timer (or the operator) makes another one.
    log::error("certificate server {}: the rollover CA certificate is not usable: {}", label_,
               s.message());
  }
  p.runtime = std::move(rt);
  return p;
}

void CertificateServer::shutdown() {
  MutexLock lock(mu_);
  want_enabled_ = false;
  config_.shutdown = true;
  ++generation_;  // an enabling run in progress is void
  pending_archive_password_.clear();
  remember_last_serial();
  runtime_.reset();  // in-flight operations keep their shared_ptr until they finish
  if (state_ != ServerState::kDisabled) transition(LifeEvent::kShutdown);
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: SCEP server stopped");
}

void CertificateServer::fail_critical(const Status& why) {
  MutexLock lock(mu_);
  if (state_ != ServerState::kEnabled) return;
  transition(LifeEvent::kCriticalFailure, why.message());
  log::error("certificate server {} disabled: {}", label_, why.message());
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

void CertificateServer::tick() {
  std::shared_ptr<Runtime> rt;
  bool retry = false;
  // Asked before mu_ is taken: it reads the trustpoint's state.
  const std::string revoked = superior_revocation();
  {
    MutexLock lock(mu_);
    if (!want_enabled_) return;
    if (!revoked.empty() && (state_ == ServerState::kEnabled ||
                             (state_ == ServerState::kCheckFailed && reason_ != revoked))) {
      // A subordinate CA or an RA whose own certificate its superior revoked: what it
      // issued or forwarded would no longer verify. It stops, and stays stopped.
      if (state_ == ServerState::kEnabled) transition(LifeEvent::kCriticalFailure, revoked);
      reason_ = revoked;
      log::error("certificate server {}: {}", label_, revoked);
      return;
    }
    if (!revoked.empty() && state_ == ServerState::kCheckFailed) return;
    const bool clock_valid = to_unix(deps_.clock.now()) >= kEarliestValidTime;
    if (state_ == ServerState::kEnabled && !clock_valid) {
      // `clock set` into the past: stop issuing until the time is right again.
      transition(LifeEvent::kClockInvalid, "waiting for time setting");
      log::warn("certificate server {}: the clock is not set; issuing suspended", label_);
      return;
    }
    if (state_ == ServerState::kWaitingForTime && runtime_ && clock_valid) {
      transition(LifeEvent::kClockValid);
      log::info("%PKI-6-CS_ENABLED: Certificate server {} now enabled.", label_);
    }
    if (state_ == ServerState::kEnabled || (state_ == ServerState::kCheckFailed && runtime_)) {
      rt = runtime_;  // issuing, or recovering from a critical failure
    } else {
      // A failed check is retried until it passes; a server waiting for its operator (the
      // first `no shutdown` needs the archive password) is not retried behind their back.
      retry = state_ == ServerState::kCheckFailed ||
              (state_ == ServerState::kWaitingForTime && !runtime_ && clock_valid) ||
              (state_ == ServerState::kWaitingForSuperior && superior_answered_.exchange(false));
      if (retry) {
        remember_last_serial();
        runtime_.reset();
      }
    }
  }
  if (retry) {
    // Never wait behind the operator's own enabling run (it may be generating a key).
    if (enable_mu_.try_lock()) {
      (void)enable_run(EnableOptions{}, LifeEvent::kRetry);
      enable_mu_.unlock();
    }
    return;
  }
  if (!rt) return;
  if (rt->crl) {
    const ServerConfig cfg = config();
    if (Status s = rt->crl->refresh_if_due(cfg, file_set(cfg)); !s.ok()) {
      fail_critical(unavailable("CRL could not be written: " + s.message()));
      return;
    }
  }
  {
    MutexLock lock(mu_);
    if (state_ == ServerState::kCheckFailed && runtime_ == rt) {
      // The failure may have been a certificate file rather than the CRL: come back only
      // once every storage location can be written again.
      if (!check_storage(config_).ok()) return;
      transition(LifeEvent::kRecovered);
      log::info("certificate server {} back to normal", label_);
    }
  }
  rollover_tick(rt);
  expire_requests(*rt);
  // Keep LABEL.ser self-contained for file-level backups (the guide tells operators to
  // back up the .ser file): fold the write-ahead log in once a minute.
  const std::int64_t now_s = to_unix(deps_.clock.now());
  if (std::abs(now_s - rt->last_checkpoint.load()) >= 60) {
    rt->last_checkpoint = now_s;
    if (Status s = rt->store->checkpoint(); !s.ok()) {
      log::warn("certificate server {}: database checkpoint failed: {}", label_, s.message());
    }
  }
}

void CertificateServer::remember_last_serial() {
  if (runtime_ && runtime_->issuer) last_serial_ = runtime_->issuer->last_issued();
}

ServerInfo CertificateServer::info() const {
  ServerInfo out;
  std::shared_ptr<Runtime> rt;
  {
    MutexLock lock(mu_);
    out.config = config_;
    out.state = state_;
    out.reason = reason_;
    rt = runtime_;
  }
  if (rt) {
    out.ca_certificate = rt->ca_cert;
    out.ra_encryption_certificate = rt->ra_encryption_cert;
    if (auto shadow = rt->shadow()) out.rollover_certificate = shadow->cert;
    out.last_serial = rt->issuer ? rt->issuer->last_issued() : last_serial_.load();
    if (rt->crl) out.crl_next_update = rt->crl->next_update();
  } else {
    out.ca_certificate = stored_ca_certificate();
    out.last_serial = last_serial_.load();  // as it was when the server last ran
  }
  {
    MutexLock lock(publish_mu_);
    if (publish_) out.publish = publish_->state();
  }
  if ((out.config.mode == ServerMode::kSubCs || is_ra_mode(out.config)) && deps_.superior_state) {
    if (auto state = deps_.superior_state(); state && state->ca) {
      out.upper_ca = state->ca->root();
      out.issuing_ca = state->ca->issuing_ca();
      out.rollover_requested = state->pending && state->pending->rollover;
    }
  }
  return out;
}

}  // namespace scepter::ca
