#include "ca/trustpoint_client.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "ca/device.h"
#include "ca/trustpoint_state.h"
#include "common/fs.h"
#include "common/log.h"
#include "pki/crl.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

Result<pki::Ptr<X509_EXTENSION>> make_extension(int nid, const char* value) {
  pki::Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, nullptr, nid, value));
  if (!ext) return fail(internal_error(fmt::format("cannot make extension {}", value)));
  return ext;
}

// The upstream's fingerprints in IOS words, for the trace.
std::string describe(const pki::Certificate& cert) {
  return fmt::format("{} (MD5 {})", pki::format_dn_ios(cert.subject()),
                     pki::ios_fingerprint(cert.md5_fingerprint()));
}

}  // namespace

Result<std::string> enrollment_subject(const TrustpointConfig& tp, const EnrollOptions& options,
                                       const std::string& fqdn) {
  if (!options.subject.empty()) return options.subject;
  // The hostname RDN (with serialNumber and ipaddress when asked) is the most specific,
  // so it is written first (RFC 4514 order) and ends up last in the DER, as IOS sends it.
  std::string first;
  if (options.include_serial) {
    auto id = fs::read_file("/etc/machine-id");
    std::string serial = id.has_value() ? id->substr(0, 8) : std::string("00000000");
    first += "serialNumber=" + serial + "+";
  }
  first += "hostname=" + fqdn;
  if (!options.ip_address.empty()) first += "+ipaddress=" + options.ip_address;
  std::string dn = tp.subject_name.empty() ? first : first + ", " + tp.subject_name;
  ASSIGN_OR_RETURN(auto name, pki::parse_dn(dn));
  return pki::format_dn_config(name.get());
}

Status check_ra_subject(const X509_NAME* subject, const std::string& trustpoint) {
  if (is_ra_certificate_name(subject)) return ok_status();
  return invalid_argument(fmt::format(
      "The subject name of an RA must include \"cn=ioscs RA\" or \"ou=ioscs RA\" so that the "
      "issuing CA recognizes it: enter \"subject-name cn=NAME, ou=ioscs RA\" under crypto pki "
      "trustpoint {}.",
      trustpoint));
}

TrustpointClient::TrustpointClient(KeyStore& keys, Clock& clock, std::string dir,
                                   std::shared_ptr<UpstreamCa> upstream)
    : keys_(keys), clock_(clock), dir_(std::move(dir)), upstream_(std::move(upstream)) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string file = entry.path().filename().string();
    if (!file.ends_with(".tp")) continue;
    const std::string name = file.substr(0, file.size() - 3);
    auto text = fs::read_file(entry.path().string());
    Result<EnrollmentState> state =
        text.has_value() ? decode_state(*text) : Result<EnrollmentState>(fail(text.error()));
    if (!state.has_value()) {
      log::error(
          "%PKI-3-TRUSTPOINT: the saved state of trustpoint {} cannot be read ({}); it "
          "starts unauthenticated",
          name, state.error().message());
      continue;
    }
    MutexLock lock(mu_);
    states_.emplace(name, std::move(*state));
  }
}

TrustpointClient::~TrustpointClient() = default;

std::string TrustpointClient::path_of(const std::string& name) const {
  return dir_ + "/" + name + ".tp";
}

Status TrustpointClient::save(const std::string& name, const EnrollmentState& state) const {
  return fs::write_atomic(path_of(name), encode_state(state), 0600);
}

bool TrustpointClient::claim(const std::string& name) {
  MutexLock lock(mu_);
  return busy_.insert(name).second;
}

void TrustpointClient::release(const std::string& name) {
  MutexLock lock(mu_);
  busy_.erase(name);
}

Result<TrustpointClient::Fetched> TrustpointClient::fetch_ca(const TrustpointConfig& tp,
                                                             const std::string& ident) {
  if (tp.enrollment_url.empty()) {
    return fail(permission_denied(
        "You must specify an enrollment URL for this CA before you can authenticate it."));
  }
  if (!upstream_) return fail(permission_denied("this scepterd has no SCEP client"));
  log::trace(log::Category::kPkiTransactions, "CRYPTO_PKI: authenticating trustpoint '{}' at {}",
             tp.name, tp.enrollment_url);
  Fetched out;
  ASSIGN_OR_RETURN(out.caps, upstream_->get_ca_caps(tp.enrollment_url, ident));
  ASSIGN_OR_RETURN(out.certificates, upstream_->get_ca_cert(tp.enrollment_url, ident));
  // `enrollment mode ra` says an RA answers: its certificate must be there (IOS fails the
  // authentication otherwise); without it, an RA certificate is still honoured.
  if (tp.enrollment_mode_ra && !out.certificates.ra_signer && !out.certificates.ra_encrypter) {
    return fail(invalid_argument("the trustpoint is in RA mode but the CA sent no RA certificate"));
  }
  log::trace(log::Category::kPkiTransactions, "CRYPTO_PKI: CA certificate received: {}",
             describe(out.certificates.issuing_ca()));
  return out;
}

Status TrustpointClient::accept_ca(const std::string& name, const Fetched& fetched) {
  MutexLock lock(mu_);
  EnrollmentState next;
  auto it = states_.find(name);
  if (it != states_.end() && it->second.ca &&
      it->second.ca->issuing_ca() == fetched.certificates.issuing_ca()) {
    next = it->second;  // the same CA again: keep what was enrolled under it
  }
  next.ca = fetched.certificates;
  next.caps = fetched.caps;
  RETURN_IF_ERROR(save(name, next));
  states_[name] = std::move(next);
  log::trace(log::Category::kPkiTransactions, "CRYPTO_PKI: trustpoint {} authentication status = 0",
             name);
  return ok_status();
}

Result<EnrollResult> TrustpointClient::enroll(const TrustpointConfig& tp,
                                              const EnrollOptions& options,
                                              const std::string& fqdn) {
  if (!upstream_) return fail(permission_denied("this scepterd has no SCEP client"));
  const std::string& name = tp.name;
  {
    MutexLock lock(mu_);
    auto it = states_.find(name);
    if (it == states_.end() || !it->second.ca) {
      return fail(permission_denied(fmt::format(
          "You must authenticate the Certificate Authority before you can enroll with it "
          "(crypto pki authenticate {}).",
          name)));
    }
    if (it->second.pending) {
      return fail(permission_denied(fmt::format(
          "A certificate request for trustpoint {} is already waiting for the CA.", name)));
    }
  }
  if (!claim(name)) {
    return fail(permission_denied(
        fmt::format("Trustpoint {} is talking to its CA; try again in a moment.", name)));
  }
  ReleaseOnExit release_guard{this, name};

  // The key: the trustpoint's rsakeypair, or the router's default key, named after its
  // FQDN (IOS).
  const std::string label = tp.rsakeypair.empty() ? fqdn : tp.rsakeypair;
  std::optional<KeyEntry> key = keys_.get(label);
  if (!key && !tp.on_device.empty()) {
    // The key store makes no keys on tokens: a certificate server makes its own CA key
    // there, and an operator any other (`crypto key generate rsa label L on NAME:`).
    return fail(not_found(fmt::format(
        "Trustpoint {0} keeps its keys on token {1}: generate the key pair {2} there first "
        "(crypto key generate rsa label {2} on {1}:).",
        name, tp.on_device, label)));
  }
  if (!key) {
    const int bits = tp.rsakeypair_bits > 0 ? tp.rsakeypair_bits : options.key_bits;
    ASSIGN_OR_RETURN(KeyEntry entry, generate_key(label, bits, tp.rsakeypair_encryption_bits));
    log::info("% Generating {} bit RSA {} for trustpoint {} (label {})", bits,
              entry.encryption_key ? "usage keys" : "keys", name, label);
    Status put = keys_.put_if_unchanged(entry, std::nullopt);
    if (!put.ok() && put.code() != Code::kAlreadyExists) return fail(put);
    key = keys_.get(label);
    if (!key) return fail(internal_error("the key " + label + " vanished"));
  }
  if (options.ca_request && key->encryption_key) {
    return fail(invalid_argument(fmt::format(
        "The key {} is usage keys; a CA signs and decrypts with one general-purpose key.", label)));
  }

  ASSIGN_OR_RETURN(std::string dn, enrollment_subject(tp, options, fqdn));
  ASSIGN_OR_RETURN(auto subject, pki::parse_dn(dn));
  if (options.ra_request) RETURN_IF_ERROR(check_ra_subject(subject.get(), name));
  ASSIGN_OR_RETURN(auto owned, request_extensions(options));
  std::vector<const X509_EXTENSION*> exts;
  for (const auto& e : owned) exts.push_back(e.get());
  EnrollmentState::Pending pending;
  ASSIGN_OR_RETURN(pending.parts,
                   make_requests(tp, subject.get(), *key, exts, options.challenge_password));
  pending.key_label = label;
  return submit(tp, std::move(pending));
}

Result<std::vector<pki::Ptr<X509_EXTENSION>>> TrustpointClient::request_extensions(
    const EnrollOptions& options) {
  std::vector<pki::Ptr<X509_EXTENSION>> owned;
  if (options.ca_request) {
    ASSIGN_OR_RETURN(auto bc, make_extension(NID_basic_constraints, "critical,CA:TRUE"));
    ASSIGN_OR_RETURN(
        auto ku, make_extension(NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"));
    owned.push_back(std::move(bc));
    owned.push_back(std::move(ku));
  }
  return owned;
}

Result<std::vector<EnrollmentState::Pending::Part>> TrustpointClient::make_requests(
    const TrustpointConfig& tp, const X509_NAME* subject, const KeyEntry& key,
    const std::vector<const X509_EXTENSION*>& extensions, const std::string& challenge) const {
  std::vector<EnrollmentState::Pending::Part> parts;
  // Usage keys: each request asks for its key's usage, so that the CA certifies the
  // signature key to sign and the encryption key to encrypt.
  auto one = [&](const pki::Key& k, const char* usage, bool encryption) -> Status {
    std::vector<const X509_EXTENSION*> exts = extensions;
    pki::Ptr<X509_EXTENSION> ku;
    if (usage != nullptr) {
      ASSIGN_OR_RETURN(ku, make_extension(NID_key_usage, usage));
      exts.push_back(ku.get());
    }
    ASSIGN_OR_RETURN(pki::Csr csr,
                     pki::make_csr(pki::CsrSpec{.subject = subject,
                                                .key = k,
                                                .hash = tp.hash.value_or(pki::Hash::kSha256),
                                                .challenge_password = challenge,
                                                .extensions = exts}));
    EnrollmentState::Pending::Part part;
    part.csr_der = csr.der();
    part.encryption = encryption;
    parts.push_back(std::move(part));
    return ok_status();
  };
  if (!key.encryption_key) {
    RETURN_IF_ERROR(one(key.key, nullptr, false));
  } else {
    RETURN_IF_ERROR(one(key.key, "critical,digitalSignature", false));
    RETURN_IF_ERROR(one(*key.encryption_key, "critical,keyEncipherment", true));
  }
  return parts;
}

Result<KeyEntry> TrustpointClient::generate_key(const std::string& label, int bits,
                                                int encryption_bits) const {
  ASSIGN_OR_RETURN(pki::Key fresh, pki::Key::generate_rsa(bits));
  KeyEntry entry{label, std::move(fresh), KeyUsage::kGeneralPurpose, false, clock_.now()};
  if (encryption_bits > 0) {
    ASSIGN_OR_RETURN(pki::Key enc, pki::Key::generate_rsa(encryption_bits));
    entry.usage = KeyUsage::kUsageKeys;
    entry.encryption_key = std::move(enc);
  }
  return entry;
}

Result<EnrollResult> TrustpointClient::submit(const TrustpointConfig& tp,
                                              EnrollmentState::Pending pending) {
  const std::string& name = tp.name;
  for (EnrollmentState::Pending::Part& part : pending.parts) {
    ASSIGN_OR_RETURN(std::string nonce, pki::random_bytes(16));
    // A fresh transactionID for every request: re-enrolling with the same key after a
    // rejection must not be taken for a resend of the refused request.
    part.transaction_id = pki::hex_upper(nonce);
    part.fingerprint_md5 = pki::md5_hex(part.csr_der);
  }
  pending.next_attempt = clock_.now();
  {
    MutexLock lock(mu_);
    EnrollmentState& s = states_[name];
    if (s.pending) {
      return fail(permission_denied(fmt::format(
          "A certificate request for trustpoint {} is already waiting for the CA.", name)));
    }
    s.pending = pending;
    s.last_error.clear();
    RETURN_IF_ERROR(save(name, s));
  }
  EnrollResult result = exchange(tp, name);
  for (const EnrollmentState::Pending::Part& part : pending.parts) {
    log::trace(log::Category::kPkiTransactions,
               "CRYPTO_PKI: {}Certificate Request Fingerprint MD5: {}",
               pending.parts.size() == 1 ? "" : (part.encryption ? "Encryption " : "Signing "),
               pki::ios_fingerprint(part.fingerprint_md5));
    const std::string sha1 = pki::hex_upper(pki::digest(pki::Hash::kSha1, part.csr_der));
    if (part.encryption) {
      result.encryption_fingerprint_md5 = part.fingerprint_md5;
      result.encryption_fingerprint_sha1 = sha1;
    } else {
      result.fingerprint_md5 = part.fingerprint_md5;
      result.fingerprint_sha1 = sha1;
    }
  }
  return result;
}

Status TrustpointClient::start_renewal(const TrustpointConfig& tp, const std::string& fqdn) {
  const std::string& name = tp.name;
  std::optional<EnrollmentState> state = this->state(name);
  if (!state || !state->certificate || state->pending) return ok_status();
  const std::string label = tp.rsakeypair.empty() ? fqdn : tp.rsakeypair;
  std::optional<KeyEntry> current = keys_.get(label);
  if (!current) return not_found("the key " + label + " of the certificate is gone");
  // With `regenerate`, the new key waits beside the current one, as LABEL.new, until its
  // certificate arrives (IOS appends '#', which key labels here do not allow).
  std::string new_label = label;
  std::optional<KeyEntry> key = current;
  if (tp.auto_enroll_regenerate && !tp.on_device.empty()) {
    // A new key on the token would need the operator's command: renew with the same key.
    log::warn("trustpoint {}: keys on token {} are not regenerated; renewing with the same key",
              tp.name, tp.on_device);
  } else if (tp.auto_enroll_regenerate) {
    new_label = label + ".new";
    key = keys_.get(new_label);
    if (!key) {
      const int bits = tp.rsakeypair_bits > 0 ? tp.rsakeypair_bits : 2048;
      const int enc_bits = current->encryption_key ? (tp.rsakeypair_encryption_bits > 0
                                                          ? tp.rsakeypair_encryption_bits
                                                          : current->encryption_key->bits())
                                                   : 0;
      ASSIGN_OR_RETURN(KeyEntry entry, generate_key(new_label, bits, enc_bits));
      RETURN_IF_ERROR(keys_.put(entry));
      key = entry;
    }
  }
  log::info("%PKI-6-CERTRENEWAUTO: Renewing the router certificate for trustpoint {}", name);
  EnrollmentState::Pending pending;
  ASSIGN_OR_RETURN(pending.parts,
                   make_requests(tp, state->certificate->subject(), *key, {}, std::string()));
  pending.key_label = new_label;
  pending.signer_key_label = label;
  pending.renewal = true;
  auto sent = submit(tp, std::move(pending));
  return sent.has_value() ? ok_status() : sent.error();
}

Status TrustpointClient::cancel(const std::string& name) {
  MutexLock lock(mu_);
  auto it = states_.find(name);
  if (it == states_.end() || !it->second.pending) {
    return not_found(fmt::format("Trustpoint {} has no request waiting.", name));
  }
  it->second.pending.reset();
  return save(name, it->second);
}

void TrustpointClient::tick(
    const std::function<std::optional<TrustpointConfig>(const std::string&)>& config,
    const std::string& fqdn) {
  std::vector<std::string> due;
  std::vector<std::string> idle;  // authenticated, nothing in flight: maybe auto-enroll
  std::vector<std::string> crl_due;
  std::vector<std::string> rolled;  // the rollover certificate's (or next CA's) time came
  {
    MutexLock lock(mu_);
    const TimePoint now = clock_.now();
    for (const auto& [name, s] : states_) {
      if (busy_.count(name)) continue;
      // A rollover certificate takes over when it begins and the current one has ended
      // (a superior that certified it from now does not cut the current one short); with
      // usage keys, once both have arrived.
      if ((s.rollover_granted() && now >= s.rollover_certificate->not_before() &&
           (!s.certificate || now >= s.certificate->not_after())) ||
          (!s.rollover_certificate && s.next_ca && now >= s.next_ca->issuing_ca().not_before())) {
        rolled.push_back(name);
      }
      if (s.pending && s.pending->next_attempt <= now) due.push_back(name);
      if (!s.pending && s.ca && s.last_error.empty()) idle.push_back(name);
      // A clock set back checks again rather than never.
      if (s.ca && s.certificate && !s.revoked_at &&
          (now - s.crl_checked >= kCrlCheckInterval || now < s.crl_checked)) {
        crl_due.push_back(name);
      }
    }
  }
  for (const std::string& name : rolled) {
    if (!claim(name)) continue;
    Status s = promote_rollover(name);
    release(name);
    if (!s.ok()) {
      log::error(
          "%PKI-3-TRUSTPOINT: trustpoint {}: the rollover certificate could not take over: {}",
          name, s.message());
    } else if (on_change_) {
      on_change_(name);
    }
  }
  for (const std::string& name : crl_due) {
    std::optional<TrustpointConfig> tp = config(name);
    // As on IOS, checking is the default: only `revocation-check none` turns it off.
    if (!tp || tp->revocation_check == "none" || !claim(name)) continue;
    check_revocation(*tp, name);
    release(name);
  }
  for (const std::string& name : due) {
    std::optional<TrustpointConfig> tp = config(name);
    if (!tp) {
      (void)forget(name);
      continue;
    }
    if (!claim(name)) continue;
    exchange(*tp, name);
    release(name);
  }
  for (const std::string& name : idle) {
    std::optional<TrustpointConfig> tp = config(name);
    if (!tp || !tp->auto_enroll) continue;
    std::optional<EnrollmentState> s = state(name);
    if (!s || s->pending || !s->last_error.empty()) continue;
    Status started;
    if (!s->certificate) {
      // auto-enroll: the first certificate without the dialogue, as IOS does.
      auto r = enroll(*tp, EnrollOptions{}, fqdn);
      if (!r.has_value()) started = r.error();
    } else if (!s->rollover_certificate) {  // a rollover certificate is its renewal
      const pki::Certificate& c = *s->certificate;
      const int percent = tp->auto_enroll_percent > 0 ? tp->auto_enroll_percent : 100;
      const auto life = c.not_after() - c.not_before();
      const TimePoint renew_at = c.not_before() + life * percent / 100;
      if (clock_.now() < renew_at) continue;
      if (!claim(name)) continue;
      started = start_renewal(*tp, fqdn);
      release(name);
    }
    if (!started.ok()) {
      log::warn("%PKI-3-ENROLL_FAIL: trustpoint {}: automatic enrolment failed: {}", name,
                started.message());
      MutexLock lock(mu_);
      auto it = states_.find(name);
      if (it != states_.end() && !it->second.pending) {
        it->second.last_error = started.message();
        (void)save(name, it->second);
      }
    }
  }
}

void TrustpointClient::check_revocation(const TrustpointConfig& tp, const std::string& name) {
  std::optional<EnrollmentState> s = state(name);
  if (!s || !s->ca || !s->certificate || !upstream_) return;
  const TimePoint now = clock_.now();
  std::string error;
  bool revoked = false;
  auto crl = upstream_->get_crl(tp.enrollment_url, name);
  if (!crl.has_value()) {
    error = crl.error().message();
  } else {
    auto listed =
        pki::crl_lists_certificate(*crl, s->ca->issuing_ca().x509(), s->certificate->x509());
    if (!listed.has_value()) {
      error = listed.error().message();
    } else {
      revoked = *listed;
    }
  }
  bool changed = false;
  {
    MutexLock lock(mu_);
    auto it = states_.find(name);
    // The certificate may have been replaced meanwhile: the answer is about the old one.
    if (it == states_.end() || !it->second.certificate ||
        !(*it->second.certificate == *s->certificate)) {
      return;
    }
    EnrollmentState& cur = it->second;
    cur.crl_checked = now;
    if (!error.empty() && error != cur.crl_error) {
      log::warn("%PKI-4-CRL_FETCH_FAIL: trustpoint {}: cannot check the CA's CRL: {}", name, error);
    }
    cur.crl_error = error;
    if (revoked) {
      cur.revoked_at = now;
      (void)save(name, cur);
      changed = true;
      log::error(
          "%PKI-3-CERT_REVOKED: trustpoint {}: the CA's CRL lists this trustpoint's certificate "
          "(serial {})",
          name, s->certificate->serial_hex());
    }
  }
  if (changed && on_change_) on_change_(name);
}

std::optional<EnrollmentState> TrustpointClient::state(const std::string& name) const {
  MutexLock lock(mu_);
  auto it = states_.find(name);
  if (it == states_.end()) return std::nullopt;
  return it->second;
}

Status TrustpointClient::forget(const std::string& name) {
  MutexLock lock(mu_);
  states_.erase(name);
  return fs::remove_file(path_of(name));
}

}  // namespace scepter::ca
