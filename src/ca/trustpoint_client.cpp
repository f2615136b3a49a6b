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

using Status_ = UpstreamReply::Status;

constexpr int kDefaultRetryMinutes = 1;  // IOS: one minute between polls

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
                                       const std::string& hostname) {
  if (!options.subject.empty()) return options.subject;
  // The hostname RDN (with serialNumber and ipaddress when asked) is the most specific,
  // so it is written first (RFC 4514 order) and ends up last in the DER, as IOS sends it.
  std::string first;
  if (options.include_serial) {
    auto id = fs::read_file("/etc/machine-id");
    std::string serial = id.has_value() ? id->substr(0, 8) : std::string("00000000");
    first += "serialNumber=" + serial + "+";
  }
  first += "hostname=" + hostname;
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
                                              const std::string& hostname) {
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
  struct Release {
    TrustpointClient* self;
    std::string name;
    ~Release() { self->release(name); }
  } release_guard{this, name};

  // The key: the trustpoint's rsakeypair, or the hostname's (IOS).
  const std::string label = tp.rsakeypair.empty() ? hostname : tp.rsakeypair;
  std::optional<KeyEntry> key = keys_.get(label);
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

  ASSIGN_OR_RETURN(std::string dn, enrollment_subject(tp, options, hostname));
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

Status TrustpointClient::start_renewal(const TrustpointConfig& tp, const std::string& hostname) {
  const std::string& name = tp.name;
  std::optional<EnrollmentState> state = this->state(name);
  if (!state || !state->certificate || state->pending) return ok_status();
  const std::string label = tp.rsakeypair.empty() ? hostname : tp.rsakeypair;
  std::optional<KeyEntry> current = keys_.get(label);
  if (!current) return not_found("the key " + label + " of the certificate is gone");
  // With `regenerate`, the new key waits beside the current one, as LABEL.new, until its
  // certificate arrives (IOS appends '#', which key labels here do not allow).
  std::string new_label = label;
  std::optional<KeyEntry> key = current;
  if (tp.auto_enroll_regenerate) {
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

Result<UpstreamReply> TrustpointClient::send_part(const TrustpointConfig& tp,
                                                  const std::string& name,
                                                  const EnrollmentState& snapshot,
                                                  const EnrollmentState::Pending::Part& part,
                                                  const pki::Key& signer) {
  const EnrollmentState::Pending& p = *snapshot.pending;
  UpstreamRequest req;
  req.url = tp.enrollment_url;
  // A renewal is a RenewalReq where the CA offers it, else a PKCSReq signed by the current
  // certificate, as IOS sends it.
  req.kind = part.delivered                       ? UpstreamRequest::Kind::kCertPoll
             : p.renewal && snapshot.caps.renewal ? UpstreamRequest::Kind::kRenewalReq
                                                  : UpstreamRequest::Kind::kPkcsReq;
  req.csr_der = part.csr_der;
  req.transaction_id = part.transaction_id;
  req.upstream = *snapshot.ca;
  req.caps = snapshot.caps;
  req.signer_key = signer;
  if (p.renewal && snapshot.certificate) req.signer_cert = *snapshot.certificate;
  log::trace(log::Category::kPkiTransactions, "CRYPTO_PKI: sending {} for trustpoint {} to {}",
             part.delivered ? "CertPoll" : (p.renewal ? "renewal" : "PKCSReq"), name,
             tp.enrollment_url);
  if (!upstream_) return fail(permission_denied("no SCEP client"));
  return upstream_->send(req);
}

EnrollResult TrustpointClient::exchange(const TrustpointConfig& tp, const std::string& name) {
  EnrollmentState snapshot;
  {
    MutexLock lock(mu_);
    auto it = states_.find(name);
    if (it == states_.end() || !it->second.pending || !it->second.ca) return {};
    snapshot = it->second;
  }
  const EnrollmentState::Pending& p = *snapshot.pending;
  EnrollResult result;
  // The key the request certifies, and the one that signs it (the current certificate's,
  // for a renewal).
  std::optional<KeyEntry> key = keys_.get(p.key_label);
  std::optional<KeyEntry> signer =
      p.renewal && !p.signer_key_label.empty() ? keys_.get(p.signer_key_label) : key;
  // Each part's key: the request's own, or with usage keys the encryption pair for the
  // encryption request.
  auto part_key = [&key](const EnrollmentState::Pending::Part& part) -> const pki::Key* {
    if (!key) return nullptr;
    if (!part.encryption) return &key->key;
    return key->encryption_key ? &*key->encryption_key : nullptr;
  };
  std::vector<Result<UpstreamReply>> replies;
  for (const EnrollmentState::Pending::Part& part : p.parts) {
    const pki::Key* own = part_key(part);
    if (own == nullptr || !signer) {
      replies.push_back(
          fail(permission_denied(fmt::format("the key {} of the request is gone; enrol again",
                                             key ? p.signer_key_label : p.key_label))));
      continue;
    }
    // A first request is signed by its own key (proof of possession); a renewal by the
    // current certificate.
    replies.push_back(send_part(tp, name, snapshot, part, p.renewal ? signer->key : *own));
  }

  // A certificate that the authenticated CA did not sign may come from its next CA (a
  // rollover certificate, issued under the CA's rollover certificate): learn that one
  // now, outside the lock, unless it is known already.
  auto ours_in =
      [&part_key](const UpstreamReply& reply,
                  const EnrollmentState::Pending::Part& part) -> std::optional<pki::Certificate> {
    const pki::Key* own = part_key(part);
    for (const pki::Certificate& c : reply.certificates) {
      auto pub = c.public_key();
      if (pub.has_value() && own != nullptr && pub->equals_public(*own)) return c;
    }
    return std::nullopt;
  };
  std::optional<UpstreamCertificates> next_ca = snapshot.next_ca;
  for (std::size_t i = 0; i < p.parts.size(); ++i) {
    if (!replies[i].has_value() || replies[i]->status != Status_::kSuccess) continue;
    auto mine = ours_in(*replies[i], p.parts[i]);
    if (!mine || mine->signed_by(snapshot.ca->issuing_ca()) ||
        (next_ca && mine->signed_by(next_ca->issuing_ca()))) {
      continue;
    }
    auto fetched = fetch_next_ca(tp, name, *snapshot.ca);
    if (fetched.has_value()) next_ca = std::move(*fetched);
    break;
  }

  bool changed = false;
  std::optional<KeyEntry> promote;  // a regenerated key whose certificates arrived
  {
    MutexLock lock(mu_);
    auto it = states_.find(name);
    // Cancelled, forgotten or replaced meanwhile: the answer is for nobody.
    auto same_request = [&p](const EnrollmentState& s) {
      if (!s.pending || s.pending->key_label != p.key_label) return false;
      for (const auto& mine : p.parts) {
        for (const auto& theirs : s.pending->parts) {
          if (mine.transaction_id == theirs.transaction_id) return true;
        }
      }
      return false;
    };
    if (it == states_.end() || !same_request(it->second)) {
      result.status = Status_::kFailure;
      result.error = "the request was cancelled";
      return result;
    }
    EnrollmentState& s = it->second;
    std::string waiting_why;  // an attempt that failed, for the operator
    bool waiting = false;
    bool got_rollover = false;
    for (std::size_t i = 0; i < p.parts.size() && s.pending; ++i) {
      const EnrollmentState::Pending::Part& sent = p.parts[i];
      auto cur =
          std::find_if(s.pending->parts.begin(), s.pending->parts.end(),
                       [&sent](const auto& q) { return q.transaction_id == sent.transaction_id; });
      if (cur == s.pending->parts.end()) continue;
      const Result<UpstreamReply>& reply = replies[i];
      if (!reply.has_value()) {
        waiting = true;
        waiting_why = reply.error().message();
        log::warn("%PKI-3-POLLCACERT: trustpoint {}: {}", name, waiting_why);
      } else if (reply->status == Status_::kPending) {
        if (!cur->delivered && !p.delivered()) s.last_error.clear();
        cur->delivered = true;
        waiting = true;
        log::trace(log::Category::kPkiTransactions,
                   "CRYPTO_PKI: status = 102: certificate request pending");
      } else if (reply->status == Status_::kFailure) {
        std::string why = "the CA rejected the request";
        if (reply->fail_info) why += fmt::format(": {}", fail_info_name(*reply->fail_info));
        if (!reply->fail_text.empty()) why += " (" + reply->fail_text + ")";
        s.pending.reset();
        s.last_error = why;
        changed = true;
        result.status = Status_::kFailure;
        result.error = why;
        log::warn(
            "%PKI-6-CERTREJECT: Certificate enrollment request for trustpoint {} was "
            "rejected by the Certificate Authority: {}",
            name, why);
      } else {
        // SUCCESS: ours is the certificate for the part's key, issued by the CA we
        // authenticated, or by its next CA (a rollover certificate).
        std::optional<pki::Certificate> mine = ours_in(*reply, sent);
        const bool under_current = mine && mine->signed_by(s.ca->issuing_ca());
        const bool under_next =
            mine && !under_current && next_ca && mine->signed_by(next_ca->issuing_ca());
        if (!under_current && !under_next) {
          waiting = true;
          waiting_why = mine ? "the certificate received is not signed by the authenticated CA"
                             : "the reply holds no certificate for our key";
          log::warn("%PKI-3-CERTRETFAIL: trustpoint {}: {}", name, waiting_why);
          continue;
        }
        if (p.rollover || under_next) {
          // Kept beside the current certificate until its validity begins.
          if (sent.encryption) {
            waiting = true;
            waiting_why = "usage keys cannot roll over";
            continue;
          }
          s.rollover_certificate = mine;
          got_rollover = true;
          if (under_next) s.next_ca = next_ca;
          if (p.key_label != p.signer_key_label && !p.signer_key_label.empty()) {
            s.rollover_key_label = p.key_label;
            s.rollover_key_target = p.signer_key_label;
          } else {
            s.rollover_key_label.clear();
            s.rollover_key_target.clear();
          }
          result.certificate = mine;
        } else if (sent.encryption) {
          s.encryption_certificate = mine;
        } else {
          s.certificate = mine;
          // A general-purpose certificate replaces usage keys' pair of them.
          if (!key || !key->encryption_key) s.encryption_certificate.reset();
          s.revoked_at.reset();
          s.crl_checked = TimePoint{};
          result.certificate = mine;
        }
        s.pending->parts.erase(cur);
        changed = true;
        log::info(
            "%PKI-6-CERTRET: {}Certificate received from Certificate Authority for "
            "trustpoint {}",
            !key || !key->encryption_key ? "" : (sent.encryption ? "Encryption " : "Signing "),
            name);
      }
    }
    const int period = tp.retry_period_minutes > 0 ? tp.retry_period_minutes : kDefaultRetryMinutes;
    if (s.pending && s.pending->parts.empty()) {
      // A rollover certificate's key moves when the certificate takes over, not now.
      if (p.renewal && p.key_label != p.signer_key_label && !got_rollover) {
        promote = key;
      }
      s.pending.reset();
      s.last_error.clear();
      result.status = Status_::kSuccess;
      if (!result.certificate) result.certificate = s.certificate;
    } else if (s.pending && waiting) {
      // A CertPoll, or an attempt that failed, is one of the `retry count`; the PENDING
      // answer to the request itself is not.
      if (p.delivered() || !waiting_why.empty()) ++s.pending->polls;
      s.pending->next_attempt = clock_.now() + std::chrono::minutes(period);
      if (!waiting_why.empty()) s.last_error = waiting_why;
      result.status = Status_::kPending;
      result.error = waiting_why;
      if (tp.retry_count > 0 && s.pending->polls >= tp.retry_count) {
        s.last_error = fmt::format(
            "no certificate after {} attempts{}; enrol again (crypto pki enroll {})",
            s.pending->polls, s.last_error.empty() ? "" : " (" + s.last_error + ")", name);
        s.pending.reset();
        changed = true;
        result.status = Status_::kFailure;
        result.error = s.last_error;
      }
    }
    Status saved = save(name, s);
    if (!saved.ok()) {
      log::error("%PKI-3-TRUSTPOINT: cannot save the state of trustpoint {}: {}", name,
                 saved.message());
    }
  }
  if (promote) {
    // The new key takes the trustpoint's label; the old one goes with its certificate.
    KeyEntry entry = *promote;
    entry.label = p.signer_key_label;
    Status moved = keys_.put(entry);
    if (moved.ok()) moved = keys_.remove(p.key_label);
    if (!moved.ok()) {
      log::error("%PKI-3-TRUSTPOINT: trustpoint {}: the renewed key {} could not replace {}: {}",
                 name, p.key_label, p.signer_key_label, moved.message());
    }
  }
  if (changed && on_change_) on_change_(name);
  return result;
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
    const std::string& hostname) {
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
      // (a superior that certified it from now does not cut the current one short).
      if ((s.rollover_certificate && now >= s.rollover_certificate->not_before() &&
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
      auto r = enroll(*tp, EnrollOptions{}, hostname);
      if (!r.has_value()) started = r.error();
    } else if (!s->rollover_certificate) {  // a rollover certificate is its renewal
      const pki::Certificate& c = *s->certificate;
      const int percent = tp->auto_enroll_percent > 0 ? tp->auto_enroll_percent : 100;
      const auto life = c.not_after() - c.not_before();
      const TimePoint renew_at = c.not_before() + life * percent / 100;
      if (clock_.now() < renew_at) continue;
      if (!claim(name)) continue;
      started = start_renewal(*tp, hostname);
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
