// TrustpointClient: one exchange with the CA for a request in flight — the request, a
// renewal or a rollover request sent (or polled), and the CA's answer recorded: a
// certificate (checked against the CA the trustpoint authenticated, or the CA's next
// certificate), a refusal, or another wait.

#include <algorithm>

#include <fmt/format.h>

#include "ca/device.h"
#include "ca/trustpoint_client.h"
#include "common/log.h"

namespace scepter::ca {
namespace {

using Status_ = UpstreamReply::Status;

constexpr int kDefaultRetryMinutes = 1;  // IOS: one minute between polls

}  // namespace

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
          // Kept beside the current certificate(s) until its validity begins.
          if (sent.encryption) {
            s.rollover_encryption_certificate = mine;
          } else {
            s.rollover_certificate = mine;
          }
          got_rollover = true;
          if (under_next) s.next_ca = next_ca;
          if (p.key_label != p.signer_key_label && !p.signer_key_label.empty()) {
            s.rollover_key_label = p.key_label;
            s.rollover_key_target = p.signer_key_label;
          } else {
            s.rollover_key_label.clear();
            s.rollover_key_target.clear();
          }
          if (!sent.encryption) result.certificate = mine;
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

}  // namespace scepter::ca
