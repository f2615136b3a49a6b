#include "ca/device.h"

#include <string>

#include <fmt/format.h>

#include "common/fs.h"
#include "common/log.h"
#include "common/parse.h"

namespace scepter::ca {
namespace {

constexpr std::string_view kClockFile = "clock-offset";

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

Device::Device(DeviceOptions options, SettableClock& clock)
    : options_(std::move(options)),
      remote_files_([this] {
        files::TransferOptions transfer;
        transfer.ssh_known_hosts = ssh_known_hosts_path();
        transfer.https_ca_file = https_ca_path();
        return transfer;
      }()),
      clock_(clock) {}

Device::~Device() = default;

Result<std::unique_ptr<Device>> Device::create(DeviceOptions options, SettableClock& clock) {
  if (options.nvram_dir.empty()) return fail(invalid_argument("no nvram directory given"));
  while (options.nvram_dir.size() > 1 && options.nvram_dir.back() == '/') {
    options.nvram_dir.pop_back();
  }
  if (options.flash_dir.empty()) options.flash_dir = options.nvram_dir + "/../flash";
  RETURN_IF_ERROR(fs::make_dirs(options.nvram_dir));
  // flash: exists on every router; a missing directory is created like NVRAM.
  RETURN_IF_ERROR(fs::make_dirs(options.flash_dir));
  std::unique_ptr<Device> device(new Device(std::move(options), clock));
  ASSIGN_OR_RETURN(device->keys_, KeyStore::open(device->nvram_dir() + "/private-keys",
                                                 device->options_.master_passphrase));
  ASSIGN_OR_RETURN(device->audit_, AuditLog::open(device->audit_log_path(), clock));
  device->tokens_ = std::make_unique<TokenRegistry>(*device->keys_);
  device->enrollment_ = std::make_unique<TrustpointClient>(
      *device->keys_, clock, device->nvram_dir(), device->options_.upstream);
  // A subordinate CA waiting for its certificate hears when the request is answered.
  Device* self = device.get();
  device->enrollment_->on_change([self](const std::string& name) {
    if (auto server = self->server(name)) server->superior_answered();
  });
  // The clock offset set by `clock set` survives restarts, as a router's calendar does.
  auto saved = fs::read_file(device->nvram_dir() + "/" + std::string(kClockFile));
  if (saved.has_value()) {
    std::string_view text(*saved);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    auto offset = parse_decimal<std::int64_t>(text);
    if (!offset.has_value()) {
      return fail(invalid_argument("corrupt " + std::string(kClockFile) + " in nvram"));
    }
    clock.set_offset_seconds(*offset);
  }
  return device;
}

std::string Device::hostname() const {
  MutexLock lock(hostname_mu_);
  return hostname_;
}

void Device::set_hostname(std::string name) {
  MutexLock lock(hostname_mu_);
  hostname_ = std::move(name);
}

std::string Device::domain_name() const {
  MutexLock lock(hostname_mu_);
  return domain_name_;
}

void Device::set_domain_name(std::string name) {
  MutexLock lock(hostname_mu_);
  domain_name_ = std::move(name);
}

std::string Device::fqdn() const {
  MutexLock lock(hostname_mu_);
  return domain_name_.empty() ? hostname_ : hostname_ + "." + domain_name_;
}

Status Device::set_clock(TimePoint t) {
  // Two `clock set` at once: the file ends with the offset the clock ends with.
  MutexLock lock(clock_mu_);
  clock_.set_now(t);
  return fs::write_atomic(nvram_dir() + "/" + std::string(kClockFile),
                          std::to_string(clock_.offset_seconds()) + "\n", 0600);
}

std::shared_ptr<CertificateServer> Device::server(const std::string& label) const {
  MutexLock lock(servers_mu_);
  auto it = servers_.find(label);
  return it == servers_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<CertificateServer>> Device::servers() const {
  MutexLock lock(servers_mu_);
  std::vector<std::shared_ptr<CertificateServer>> out;
  for (const auto& [label, s] : servers_) out.push_back(s);
  return out;
}

ServerDeps Device::server_deps(const std::string& label) {
  ServerDeps deps{*keys_, clock_, [this](std::string_view url) { return resolve_local_url(url); },
                  options_.nvram_dir};
  deps.remote = &remote_files_;
  deps.tokens = tokens_.get();
  deps.audit = audit_.get();
  deps.on_event = [this, label](EventKind kind, std::string id, std::string state) {
    events_.publish(kind, label, std::move(id), std::move(state));
  };
  deps.ocsp_url = [this] { return ocsp_url(); };
  deps.key_device = [this, label] {
    std::optional<TrustpointConfig> tp = trustpoint(label);
    return tp ? tp->on_device : std::string();
  };
  // mode sub-cs: the trustpoint of the server's label is its client of the superior CA.
  deps.superior_state = [this, label] { return enrollment_->state(label); };
  deps.superior_enroll = [this, label](const EnrollOptions& options) -> Result<EnrollResult> {
    std::optional<TrustpointConfig> tp = trustpoint(label);
    if (!tp) return fail(not_found("trustpoint " + label + " does not exist"));
    // The CA key is the server's own key pair, whatever the trustpoint names.
    if (!tp->rsakeypair.empty() && tp->rsakeypair != label) {
      return fail(invalid_argument(fmt::format(
          "The key of certificate server {0} is the key pair {0}; trustpoint {0} names "
          "rsakeypair {1}. Enter \"no rsakeypair\" (or \"rsakeypair {0}\") under crypto pki "
          "trustpoint {0}.",
          label, tp->rsakeypair)));
    }
    tp->rsakeypair = label;
    return enrollment_->enroll(*tp, options, fqdn());
  };
  deps.superior_rollover = [this, label](const EnrollOptions& options) -> Result<EnrollResult> {
    std::optional<TrustpointConfig> tp = trustpoint(label);
    if (!tp) return fail(not_found("trustpoint " + label + " does not exist"));
    tp->rsakeypair = label;
    return enrollment_->enroll_rollover(*tp, options, rollover_key_label(label));
  };
  deps.superior_promote = [this, label] { return enrollment_->promote_rollover(label); };
  deps.superior_cancel_rollover = [this, label] { return enrollment_->cancel_rollover(label); };
  // mode ra: the requests it grants go where its trustpoint enrolled.
  deps.upstream = options_.upstream;
  deps.superior_target = [this, label]() -> Result<UpstreamTarget> {
    std::optional<TrustpointConfig> tp = trustpoint(label);
    if (!tp || tp->enrollment_url.empty()) {
      return fail(permission_denied("trustpoint " + label + " has no enrollment url"));
    }
    std::optional<EnrollmentState> state = enrollment_->state(label);
    if (!state || !state->ca) {
      return fail(permission_denied("trustpoint " + label + " is not authenticated"));
    }
    UpstreamTarget target;
    target.url = tp->enrollment_url;
    target.certificates = std::move(*state->ca);
    target.caps = std::move(state->caps);
    // IOS's default `enrollment retry period` is one minute.
    target.retry_period = Seconds(60 * std::max(1, tp->retry_period_minutes));
    return target;
  };
  return deps;
}

Result<std::shared_ptr<CertificateServer>> Device::create_server(const std::string& label) {
  RETURN_IF_ERROR(KeyStore::check_label(label));
  MutexLock lock(servers_mu_);
  if (servers_.count(label)) return fail(already_exists("certificate server " + label));
  ServerConfig cfg;
  cfg.label = label;
  auto server = std::make_shared<CertificateServer>(cfg, server_deps(label));
  // Both locks: the server and its trustpoint appear together.
  MutexLock tp_lock(trustpoints_mu_);
  servers_.emplace(label, server);
  server_count_.store(servers_.size());
  // IOS creates a trustpoint of the same name that holds the CA certificate.
  if (!trustpoints_.count(label)) {
    TrustpointConfig tp;
    tp.name = label;
    tp.rsakeypair = label;
    tp.revocation_check = "crl";
    trustpoints_.emplace(label, tp);
  }
  return server;
}

Status Device::delete_server(const std::string& label) {
  std::shared_ptr<CertificateServer> server;
  {
    MutexLock lock(servers_mu_);
    auto it = servers_.find(label);
    if (it == servers_.end()) return not_found("certificate server " + label + " does not exist");
    MutexLock tp_lock(trustpoints_mu_);
    server = it->second;
    servers_.erase(it);
    server_count_.store(servers_.size());
    trustpoints_.erase(label);
  }
  server->shutdown();
  server->discard_publish_queue();
  RETURN_IF_ERROR(enrollment_->forget(label));
  RETURN_IF_ERROR(fs::remove_file(nvram_dir() + "/" + label + "#1CA.cer"));
  if (keys_->get(label).has_value()) RETURN_IF_ERROR(keys_->remove(label));
  return ok_status();
}

std::optional<TrustpointConfig> Device::trustpoint(const std::string& name) const {
  MutexLock lock(trustpoints_mu_);
  auto it = trustpoints_.find(name);
  if (it == trustpoints_.end()) return std::nullopt;
  return it->second;
}

std::vector<TrustpointConfig> Device::trustpoints() const {
  MutexLock lock(trustpoints_mu_);
  std::vector<TrustpointConfig> out;
  out.reserve(trustpoints_.size());
  for (const auto& [name, tp] : trustpoints_) out.push_back(tp);
  return out;
}

Status Device::edit_trustpoint(const std::string& name,
                               const std::function<Status(TrustpointConfig&)>& edit, bool create) {
  MutexLock lock(trustpoints_mu_);
  auto it = trustpoints_.find(name);
  TrustpointConfig tp;
  if (it != trustpoints_.end()) {
    tp = it->second;
  } else if (create) {
    tp.name = name;
  } else {
    return not_found("trustpoint " + name + " does not exist");
  }
  RETURN_IF_ERROR(edit(tp));
  tp.name = name;  // the key of the map and the name stay one
  trustpoints_.insert_or_assign(name, std::move(tp));
  return ok_status();
}

Status Device::remove_trustpoint(const std::string& name) {
  MutexLock lock(servers_mu_);
  MutexLock tp_lock(trustpoints_mu_);
  auto it = trustpoints_.find(name);
  if (it == trustpoints_.end()) return not_found("trustpoint " + name + " does not exist");
  if (servers_.count(name)) {
    return permission_denied("trustpoint " + name + " is used by certificate server " + name);
  }
  trustpoints_.erase(it);
  // The certificates it received go with it (IOS: "will destroy all certificates
  // received from the related Certificate Authority").
  return enrollment_->forget(name);
}

void Device::tick() {
  for (const auto& s : servers()) s->tick();
  sign_audit();
}

// The first enabled certificate server, by label, signs what the audit log took since its
// last checkpoint; none enabled: the records wait. Due every audit_checkpoint_every, and
// at once when this process has signed none yet or the server of its last checkpoint no
// longer signs with that certificate (a rollover switched it): until a checkpoint by a
// certificate the device holds, `verify audit` could not vouch for the log.
void Device::sign_audit() {
  const auto now = std::chrono::steady_clock::now();
  if (audit_->unsigned_records() == 0) return;
  if (now - audit_signed_at_ < options_.audit_checkpoint_every && audit_signed_by_) {
    // Still the certificate its server signs with: not due yet. (Asked of that server
    // alone: audit_signers() may read the database, and this runs every tick.)
    if (const auto signer = server(audit_signer_label_)) {
      const auto id = signer->signing_identity();
      if (id.has_value() && id->certificate == *audit_signed_by_) return;
    }
  }
  for (const auto& server : servers()) {
    auto id = server->signing_identity();
    if (!id.has_value()) continue;
    if (Status s = audit_->checkpoint(server->label(), id->certificate, id->key); !s.ok()) {
      log::error("audit: cannot sign a checkpoint with {}: {}", server->label(), s.message());
      continue;
    }
    audit_signed_at_ = now;
    audit_signed_by_ = id->certificate;
    audit_signer_label_ = server->label();
    return;
  }
}

std::vector<pki::Certificate> Device::audit_signers() const {
  std::vector<pki::Certificate> out;
  for (const auto& server : servers()) {
    const ServerInfo info = server->info();
    if (info.ca_certificate) out.push_back(*info.ca_certificate);
    if (info.rollover_certificate) out.push_back(*info.rollover_certificate);
  }
  return out;
}

void Device::poll_trustpoints() {
  enrollment_->tick([this](const std::string& name) { return trustpoint(name); }, fqdn());
  // RAs ask the issuing CA about the requests waiting there.
  for (const auto& server : servers()) server->poll_upstream();
}

Result<std::string> Device::resolve_local_url(std::string_view url) const {
  auto join = [](const std::string& dir, std::string_view rest) {
    while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
    return rest.empty() ? dir : dir + "/" + std::string(rest);
  };
  if (starts_with(url, "nvram:")) return join(options_.nvram_dir, url.substr(6));
  if (starts_with(url, "flash:")) return join(options_.flash_dir, url.substr(6));
  if (starts_with(url, "file://")) url.remove_prefix(7);
  if (!url.empty() && url.front() == '/') return std::string(url);
  for (std::string_view scheme : {"tftp:", "ftp:", "http:", "https:", "scp:", "sftp:", "rcp:"}) {
    if (starts_with(url, scheme)) {
      return fail(
          invalid_argument("a local file is needed here (nvram:, flash: or a local "
                           "path), not " +
                           std::string(scheme)));
    }
  }
  return fail(invalid_argument("invalid URL " + std::string(url)));
}

Result<std::string> Device::read_url(std::string_view url) const {
  if (files::is_remote_url(url)) return remote_files_.read(std::string(url), {});
  ASSIGN_OR_RETURN(std::string path, resolve_local_url(url));
  return fs::read_file(path);
}

Status Device::write_url(std::string_view url, std::string_view data, int mode) const {
  if (files::is_remote_url(url)) return remote_files_.write(std::string(url), {}, data);
  ASSIGN_OR_RETURN(std::string path, resolve_local_url(url));
  return fs::write_atomic(path, data, mode);
}

HttpConfig Device::http() const {
  MutexLock lock(http_mu_);
  return http_;
}

void Device::edit_http(const std::function<void(HttpConfig&)>& edit) {
  MutexLock lock(http_mu_);
  edit(http_);
}

Device::HttpListening Device::http_listening() const {
  MutexLock lock(http_mu_);
  return http_listening_;
}

void Device::set_http_listening(HttpListening listening) {
  MutexLock lock(http_mu_);
  http_listening_ = std::move(listening);
}

Device::HttpsListening Device::https_listening() const {
  MutexLock lock(http_mu_);
  return https_listening_;
}

void Device::set_https_listening(HttpsListening listening) {
  MutexLock lock(http_mu_);
  https_listening_ = std::move(listening);
}

std::string Device::ocsp_url() const {
  int port = http().port;
  if (port == 0) port = http_listening().port;  // `ip http port 0`: the port bound
  return port == 80 || port == 0 ? fmt::format("http://{}/ocsp", fqdn())
                                 : fmt::format("http://{}:{}/ocsp", fqdn(), port);
}

std::optional<RequestSlot> Device::try_begin_request(const CertificateServer& server) const {
  const unsigned limit = server_count_.load() > 1 ? max_requests_per_server_.load() : 0;
  return server.try_begin_request(limit);
}

std::optional<OcspAnswer> Device::answer_ocsp(std::string_view der, OcspWork work) const {
  auto request = pki::ocsp::parse_request(der);
  if (!request.has_value()) return ocsp_error(pki::ocsp::ResponseStatus::kMalformedRequest);
  for (const auto& server : servers()) {
    std::shared_ptr<OcspResponder> responder = server->ocsp_responder();
    if (!responder || !responder->serves(*request)) continue;
    if (std::optional<OcspAnswer> ready = responder->cached(*request)) return ready;
    switch (work) {
      case OcspWork::kReady:
        return std::nullopt;
      case OcspWork::kCpu:
        return responder->answer_from_memory(*request);
      case OcspWork::kAnyway: {
        // The database, perhaps: within the server's share of the workers.
        const std::optional<RequestSlot> slot = try_begin_request(*server);
        if (!slot) return ocsp_error(pki::ocsp::ResponseStatus::kTryLater);
        return responder->answer(*request);
      }
    }
  }
  return ocsp_error(pki::ocsp::ResponseStatus::kUnauthorized);
}

}  // namespace scepter::ca
