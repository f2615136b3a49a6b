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

}  // namespace

const char* grant_mode_text(GrantMode mode) {
  switch (mode) {
    case GrantMode::kManual:
      return "manual";
    case GrantMode::kAuto:
      return "auto";
    case GrantMode::kNone:
      return "none (all requests are rejected)";
    case GrantMode::kRaAuto:
      return "auto for RA-authorized requests, manual otherwise";
  }
  return "manual";
}

const char* server_state_name(ServerState state) {
  switch (state) {
    case ServerState::kDisabled:
      return "disabled";
    case ServerState::kEnabled:
      return "enabled";
    case ServerState::kCheckFailed:
      return "check failed";
    case ServerState::kWaitingForTime:
      return "waiting for time setting";
  }
  return "disabled";
}

CertificateServer::CertificateServer(ServerConfig config, ServerDeps deps)
    : label_(config.label), deps_(std::move(deps)), config_(std::move(config)) {}

CertificateServer::~CertificateServer() = default;

ServerConfig CertificateServer::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

std::string CertificateServer::trustpoint_cert_path() const {
  // IOS keeps the CA certificate in the trustpoint as nvram:<label>#<serial>CA.cer.
  return deps_.trustpoint_dir + "/" + label_ + "#1CA.cer";
}

bool CertificateServer::has_ca_certificate() const { return fs::exists(trustpoint_cert_path()); }

std::optional<pki::Certificate> CertificateServer::stored_ca_certificate() const {
  auto der = fs::read_file(trustpoint_cert_path());
  if (!der.has_value()) return std::nullopt;
  auto cert = pki::Certificate::from_der(*der);
  if (!cert.has_value()) return std::nullopt;
  return std::move(*cert);
}

files::FileSet CertificateServer::file_set(const ServerConfig& cfg) const {
  return files::FileSet(cfg.locations, deps_.resolver);
}

Status CertificateServer::check_storage(const ServerConfig& cfg) const {
  files::FileSet files = file_set(cfg);
  std::vector<files::FileType> needed = {files::FileType::kSer, files::FileType::kCrl};
  if (cfg.level != files::DbLevel::kMinimal) needed.push_back(files::FileType::kCnm);
  if (cfg.level == files::DbLevel::kComplete) needed.push_back(files::FileType::kCrt);
  for (files::FileType t : needed) {
    Status s = files.check_writable(t);
    if (!s.ok()) return unavailable("Storage inaccessible: " + s.message());
  }
  return ok_status();
}

bool CertificateServer::needs_archive_password() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (has_ca_certificate() || !config_.archive_enabled || !config_.archive_password.empty()) {
    return false;
  }
  // An operator's key that is not exportable is not archived (see generate_ca).
  auto key = deps_.keys.get(label_);
  return !key.has_value() || key->exportable;
}

Status CertificateServer::set_config(const ServerConfig& next) {
  std::lock_guard<std::mutex> lock(mu_);
  const ServerConfig& cur = config_;
  const bool running = state_ != ServerState::kDisabled;
  if (running) {
    bool storage_changed = next.locations.primary != cur.locations.primary ||
                           next.locations.storage != cur.locations.storage ||
                           next.archive_enabled != cur.archive_enabled ||
                           next.archive_format != cur.archive_format ||
                           next.db_username != cur.db_username;
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
    if (next.mode != cur.mode) {
      return permission_denied(
          "The server mode cannot be changed after CA certificate generation.");
    }
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
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

std::string CertificateServer::reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

std::shared_ptr<CertificateServer::Runtime> CertificateServer::runtime() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != ServerState::kEnabled) return nullptr;
  return runtime_;
}

Result<EnableReport> CertificateServer::enable(const EnableOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  want_enabled_ = true;
  config_.shutdown = false;
  auto report = enable_locked(options);
  if (report.has_value()) {
    log::trace(log::Category::kPkiServer, "CRYPTO_CS: exit FSM: new state enabled");
    log::info("%PKI-6-CS_ENABLED: Certificate server {} now enabled.", label_);
  }
  return report;
}

Result<EnableReport> CertificateServer::enable_locked(const EnableOptions& options) {
  log::trace(log::Category::kPkiServer,
             "CRYPTO_CS: enter FSM: input state {}, input signal no shut",
             server_state_name(state_));
  if (state_ == ServerState::kEnabled) return EnableReport{};
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: starting enabling checks");
  const ServerConfig cfg = config_;
  if (to_unix(deps_.clock.now()) < kEarliestValidTime) {
    state_ = ServerState::kWaitingForTime;
    reason_ = "waiting for time setting";
    return fail(unavailable("Time has not been set. Cannot start the Certificate server."));
  }
  auto fail_check = [&](Status s) -> Result<EnableReport> {
    // The timer retries every second: log a reason once, not at every retry.
    if (state_ != ServerState::kCheckFailed || reason_ != s.message()) {
      log::warn("certificate server {}: enabling check failed: {}", label_, s.message());
    }
    state_ = ServerState::kCheckFailed;
    reason_ = s.message();
    return fail(s);
  };
  if (Status s = check_storage(cfg); !s.ok()) return fail_check(s);
  files::FileSet files = file_set(cfg);
  auto rt = std::make_shared<Runtime>();
  auto ser_path = files.path_for(files::FileType::kSer, label_ + ".ser");
  if (!ser_path.has_value()) return fail_check(ser_path.error());
  if (has_ca_certificate() && !fs::exists(*ser_path)) {
    // Do not create an empty database next to an existing CA: a new serial sequence
    // would repeat serials already issued.
    return fail_check(unavailable(fmt::format(
        "The CA certificate exists but there is no database {}{}.ser; move the existing "
        "database to the new location.",
        files.url_for(files::FileType::kSer), label_)));
  }
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: file opened: {}{}.ser",
             files.url_for(files::FileType::kSer), label_);
  auto store = store::open_store({"sqlite:" + *ser_path});
  if (!store.has_value()) {
    return fail_check(unavailable("Storage inaccessible: " + store.error().message()));
  }
  rt->store = std::move(*store);

  EnableReport report;
  auto ca_der = rt->store->meta(kMetaCaCert);
  if (!ca_der.has_value()) return fail_check(ca_der.error());
  if (!ca_der->has_value()) {
    if (has_ca_certificate()) {
      return fail_check(unavailable(fmt::format(
          "The CA certificate exists but the database {}{}.ser does not hold it; move the "
          "existing database to the new location.",
          files.url_for(files::FileType::kSer), label_)));
    }
    Status s = generate_ca(*rt, cfg, report, options);
    if (!s.ok()) return fail_check(s);
  } else {
    log::trace(log::Category::kPkiServer, "CRYPTO_CS: found existing serial file.");
    auto cert = pki::Certificate::from_der(**ca_der);
    if (!cert.has_value()) return fail_check(cert.error());
    auto key = deps_.keys.get(label_);
    if (!key.has_value()) {
      return fail_check(not_found("The CA key " + label_ + " does not exist."));
    }
    auto cert_key = cert->public_key();
    if (!cert_key.has_value() || !key->key.equals_public(*cert_key)) {
      return fail_check(
          invalid_argument("The key " + label_ + " does not match the CA certificate."));
    }
    // The issuer name is fixed by the certificate; a configuration that lost it (never
    // saved) shows the truth.
    std::string issuer = pki::format_dn_config(cert->subject());
    if (config_.effective_issuer() != issuer) config_.issuer_name = issuer;
    rt->ca_cert = std::move(*cert);
    rt->ca_key = key->key;
    if (!fs::exists(trustpoint_cert_path())) {
      Status s = fs::write_atomic(trustpoint_cert_path(), rt->ca_cert->der());
      if (!s.ok()) return fail_check(s);
    }
  }
  // The last serial. Every issue writes it with the certificate, but concurrent issues
  // may commit out of order, so look past it for a few serials that a later-committing
  // (lower) write left unrecorded; far more than the number of concurrent issuers.
  auto last = rt->store->meta(kMetaLastSerial);
  if (!last.has_value()) return fail_check(last.error());
  rt->last_serial = last->has_value() ? std::stoull(**last) : 0;
  for (Serial probe = rt->last_serial + 1; probe <= rt->last_serial + 1024; ++probe) {
    auto found = rt->store->certificate(probe);
    if (found.has_value()) {
      rt->last_serial = probe;
    } else if (found.error().code() != Code::kNotFound) {
      return fail_check(found.error());
    }
  }
  auto last_req = rt->store->meta(kMetaLastRequest);
  if (!last_req.has_value()) return fail_check(last_req.error());
  rt->last_request = last_req->has_value() ? std::stoll(**last_req) : 0;
  // Concurrent submits may commit out of order: never hand out an id still in use.
  auto stored_requests = rt->store->requests();
  if (!stored_requests.has_value()) return fail_check(stored_requests.error());
  for (const auto& r : *stored_requests) rt->last_request = std::max(rt->last_request, r.id);
  rt->last_issued = rt->last_serial;
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: last issued serial number is 0x{:X}",
             rt->last_serial);
  Status crl = load_crl(*rt, cfg);
  if (!crl.ok()) return fail_check(crl);
  auto otp = rt->store->meta(kMetaOtp);
  if (otp.has_value() && otp->has_value()) {
    auto space = (*otp)->find(' ');
    if (space != std::string::npos) {
      rt->otp_digest = (*otp)->substr(0, space);
      rt->otp_expires = from_unix(std::stoll((*otp)->substr(space + 1)));
    }
  }
  runtime_ = rt;
  state_ = ServerState::kEnabled;
  reason_.clear();
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: SCEP server started");
  return report;
}

void CertificateServer::shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  want_enabled_ = false;
  config_.shutdown = true;
  runtime_.reset();  // in-flight operations keep their shared_ptr until they finish
  state_ = ServerState::kDisabled;
  reason_.clear();
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: SCEP server stopped");
}

void CertificateServer::fail_critical(const Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != ServerState::kEnabled) return;
  state_ = ServerState::kCheckFailed;
  reason_ = why.message();
  log::error("certificate server {} disabled: {}", label_, why.message());
}

void CertificateServer::tick() {
  std::shared_ptr<Runtime> rt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!want_enabled_) return;
    const bool clock_valid = to_unix(deps_.clock.now()) >= kEarliestValidTime;
    if (state_ == ServerState::kEnabled && !clock_valid) {
      // `clock set` into the past: stop issuing until the time is right again.
      state_ = ServerState::kWaitingForTime;
      reason_ = "waiting for time setting";
      log::warn("certificate server {}: the clock is not set; issuing suspended", label_);
      return;
    }
    if (state_ == ServerState::kWaitingForTime && runtime_ && clock_valid) {
      state_ = ServerState::kEnabled;
      reason_.clear();
      log::info("%PKI-6-CS_ENABLED: Certificate server {} now enabled.", label_);
    }
    if (state_ != ServerState::kEnabled) {
      // Recovery: a failed check or a critical failure is retried until it passes.
      if (runtime_ && state_ == ServerState::kCheckFailed) {
        rt = runtime_;
      } else {
        // A first enable that still needs the operator's archive passphrase is not
        // retried behind their back.
        if (!has_ca_certificate() && config_.archive_enabled && config_.archive_password.empty()) {
          return;
        }
        runtime_.reset();
        auto r = enable_locked(EnableOptions{});
        if (!r.has_value()) return;
        log::info("%PKI-6-CS_ENABLED: Certificate server {} now enabled.", label_);
        return;
      }
    } else {
      rt = runtime_;
    }
  }
  if (!rt) return;
  {
    std::lock_guard<std::mutex> crl_lock(rt->crl_mu);
    const TimePoint now = deps_.clock.now();
    const auto lifetime = rt->crl_next_update - rt->crl_this_update;
    // Reissue when 1/8 of the lifetime is left (at least a minute early), and retry a
    // failed write at every tick.
    const auto margin = std::max<Seconds>(Seconds(60), lifetime / 8);
    if (rt->crl_dirty || now >= rt->crl_next_update - margin) {
      Status s = publish_crl_locked(*rt, config());
      if (!s.ok()) {
        fail_critical(unavailable("CRL could not be written: " + s.message()));
        return;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == ServerState::kCheckFailed && runtime_ == rt) {
      // The failure may have been a certificate file rather than the CRL: come back only
      // once every storage location can be written again.
      if (!check_storage(config_).ok()) return;
      state_ = ServerState::kEnabled;
      reason_.clear();
      log::info("certificate server {} back to normal", label_);
    }
  }
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

ServerInfo CertificateServer::info() const {
  ServerInfo out;
  std::shared_ptr<Runtime> rt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.config = config_;
    out.state = state_;
    out.reason = reason_;
    rt = runtime_;
  }
  if (rt) {
    out.ca_certificate = rt->ca_cert;
    {
      std::lock_guard<std::mutex> lock(rt->alloc_mu);
      out.last_serial = rt->last_issued;
    }
    std::lock_guard<std::mutex> lock(rt->crl_mu);
    if (!rt->crl_der.empty()) out.crl_next_update = rt->crl_next_update;
  } else {
    out.ca_certificate = stored_ca_certificate();
  }
  return out;
}

}  // namespace scepter::ca
