#include "ca/certificate_server.h"

#include <fmt/format.h>

#include "ca/server_runtime.h"
#include "common/fs.h"
#include "common/log.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

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
    : label_(config.label),
      deps_(std::move(deps)),
      issued_count_(issued_counter(label_)),
      revoked_count_(revoked_counter(label_)),
      config_(std::move(config)),
      counts_(std::make_shared<GaugeCounts>()) {
  // Copies that waited for a file server when the process stopped go out now.
  if (deps_.remote != nullptr && fs::exists(publish_spool_dir())) (void)publish_queue();
}

CertificateServer::~CertificateServer() = default;

RequestSlot::~RequestSlot() {
  if (server_ != nullptr) server_->end_request();
}

void CertificateServer::note_request_progress() const {
  request_progress_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count());
}

std::optional<RequestSlot> CertificateServer::try_begin_request(unsigned limit) const {
  const unsigned before = running_requests_.fetch_add(1);
  if (limit == 0 || before < limit) {
    if (before + 1 == limit) note_request_progress();
    return RequestSlot(this);
  }
  running_requests_.fetch_sub(1);
  // The share is taken: wait while the requests holding it move on, refuse once they
  // have not for kRequestShareStuck. Waiters announce themselves before they look at the
  // count, and end_request() looks at them after it lowers the count, so a slot given
  // back meanwhile is seen by one side or the other.
  UniqueMutexLock lock(share_mu_);
  share_waiters_.fetch_add(1);
  std::optional<RequestSlot> slot;
  for (;;) {
    unsigned running = running_requests_.load();
    while (running < limit && !slot) {
      if (running_requests_.compare_exchange_weak(running, running + 1)) {
        if (running + 1 == limit) note_request_progress();
        slot.emplace(RequestSlot(this));
      }
    }
    if (slot) break;
    const std::chrono::steady_clock::time_point stuck_at{
        std::chrono::nanoseconds(request_progress_ns_.load())};
    if (std::chrono::steady_clock::now() >= stuck_at + kRequestShareStuck) break;
    lock.wait_until(share_freed_, stuck_at + kRequestShareStuck);
  }
  share_waiters_.fetch_sub(1);
  return slot;
}

void CertificateServer::end_request() const {
  note_request_progress();
  running_requests_.fetch_sub(1);
  if (share_waiters_.load() > 0) {
    { MutexLock lock(share_mu_); }  // a waiter between its check and its wait finishes first
    share_freed_.notify_one();
  }
}

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
                           next.serial_number_above != cur.serial_number_above ||
                           next.scep_encryption_key != cur.scep_encryption_key ||
                           next.ocsp_responder_key != cur.ocsp_responder_key;
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
  if (is_ra_mode(next) && !next.scep_encryption_key.empty()) {
    return invalid_argument(
        "scep encryption-key is for a CA: an RA's clients encrypt to its trustpoint's usage keys "
        "(rsakeypair LABEL SIZE ENCRYPTION-SIZE; enter \"no scep encryption-key\").");
  }
  if (next.cert_lifetime_days > next.max_cert_lifetime_days()) {
    return invalid_argument(fmt::format(
        "The certificate lifetime must be at most the CA certificate lifetime less {} days "
        "({} days).",
        kCertMarginDays, next.max_cert_lifetime_days()));
  }
  if (is_ra_mode(next) && next.ocsp) {
    return invalid_argument(
        "ocsp is for a CA: an RA holds no revocations to answer for (enter \"no ocsp\").");
  }
  config_ = next;
  if (auto ocsp = runtime_ ? runtime_->ocsp_responder() : nullptr) {
    ocsp->configure(ocsp_settings(next));
  }
  return ok_status();
}

std::shared_ptr<OcspResponder> CertificateServer::ocsp_responder() const {
  MutexLock lock(mu_);
  if (state_ != ServerState::kEnabled || !runtime_) return nullptr;
  std::shared_ptr<OcspResponder> ocsp = runtime_->ocsp_responder();
  if (!ocsp || !ocsp->enabled()) return nullptr;
  // The responder reads the runtime's database and CRL publisher: the pointer handed out
  // keeps the runtime alive too, past a `shutdown` or a renewal meanwhile.
  struct Held {
    std::shared_ptr<Runtime> runtime;
    std::shared_ptr<OcspResponder> responder;
  };
  auto held = std::make_shared<Held>(Held{runtime_, std::move(ocsp)});
  OcspResponder* responder = held->responder.get();
  return std::shared_ptr<OcspResponder>(std::move(held), responder);
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
  if (auto ocsp = runtime_->ocsp_responder()) ocsp->configure(ocsp_settings(config_));
  last_failure_.clear();
  transition(LifeEvent::kChecksPassed);
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: SCEP server started");
  log::info("%PKI-6-CS_ENABLED: Certificate server {} now enabled.", label_);
  return p.report;
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
  for (const std::optional<pki::Key>* key : {&rt->ca_key, &rt->encryption_key}) {
    if (!key->has_value() || (*key)->token().empty()) continue;
    // A token can be pulled out or its store lost: find out before a client does.
    if (Status s = (*key)->check_private(); !s.ok()) {
      const std::string& token = (*key)->token();
      if (deps_.tokens != nullptr) deps_.tokens->mark_failed(token, s.message());
      fail_critical(unavailable(fmt::format("the {} key on token {} cannot be used: {}",
                                            key == &rt->ca_key ? "CA" : "SCEP encryption", token,
                                            s.message())));
      MutexLock lock(mu_);
      // Recovery logs in to the token again and enables afresh (tick()'s retry).
      if (runtime_ == rt && state_ == ServerState::kCheckFailed) {
        remember_last_serial();
        runtime_.reset();
      }
      return;
    }
  }
  if (rt->crl) {
    const ServerConfig cfg = config();
    const std::shared_ptr<const std::string> before = rt->crl->der();
    Status s = rt->crl->refresh_if_due(cfg, file_set(cfg));
    if (s.ok() && rt->crl->der() != before) notify(EventKind::kCrl, "", "published");
    if (!s.ok()) {
      // On a shared database the publisher reads it at every tick: a failure that left
      // no CRL unwritten is the database's.
      const bool database = rt->store->shared() && !rt->crl->dirty();
      fail_critical(unavailable(
          (database ? "Storage inaccessible: " : "CRL could not be written: ") + s.message()));
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
  ocsp_tick(rt);
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
    (is_ra_mode(out.config) ? out.ra_encryption_certificate : out.scep_encryption_certificate) =
        rt->encryption_cert;
    if (auto shadow = rt->shadow()) out.rollover_certificate = shadow->cert;
    out.last_serial = rt->issuer ? rt->issuer->last_issued() : last_serial_.load();
    if (rt->issuer && rt->store->shared()) {
      // Other nodes issue too: the database knows the last serial (one indexed read).
      if (auto used = serials_used(*rt->store); used.has_value()) out.last_serial = *used;
    }
    if (rt->crl) {
      out.crl_next_update = rt->crl->next_update();
      if (auto who = rt->crl->publisher()) {
        out.crl_publisher = who->here           ? "this node (" + who->node + ")"
                            : who->node.empty() ? std::string("none yet")
                                                : who->node;
      }
    }
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
