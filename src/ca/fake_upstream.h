#pragma once
// For ca/ tests only: an UpstreamCa that answers as a CA would, in process. It is a fake
// because the ca/ tests must drive every answer (PENDING, FAILURE, an unreachable or
// lying CA) at will; the real SCEP client (scep/upstream_client.h) is tested against a
// real scepterd over HTTP on 127.0.0.1. Header-only.

#include <deque>
#include <string>
#include <vector>

#include "ca/upstream_ca.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "pki/csr.h"
#include "pki/issuer.h"
#include "pki/name.h"

namespace scepter::ca::testing {

class FakeUpstream : public UpstreamCa {
 public:
  // How the next PKIOperation is answered.
  // kUnknown: FAILURE badCertId, as a CA answers a CertPoll for a transaction it has not
  // seen.
  enum class Answer { kGrant, kPending, kReject, kUnknown, kDown, kForged };

  FakeUpstream(const pki::Key& ca_key, TimePoint now, const std::string& subject = "CN=upstream")
      : key_(ca_key) {
    auto name = pki::parse_dn(subject);
    auto cert = pki::make_ca_certificate({.subject = name->get(),
                                          .key = key_,
                                          .serial = 1,
                                          .not_before = now - std::chrono::hours(1),
                                          .not_after = now + std::chrono::days(3650)});
    ca_.push_back(*cert);
    now_ = now;
  }

  const pki::Certificate& ca_cert() const { return ca_.front(); }

  // Answers used in order; when empty, `fallback`.
  void script(std::initializer_list<Answer> answers) {
    MutexLock lock(mu_);
    for (Answer a : answers) answers_.push_back(a);
  }
  void set_fallback(Answer a) {
    MutexLock lock(mu_);
    fallback_ = a;
  }
  std::vector<UpstreamRequest::Kind> kinds() const {
    MutexLock lock(mu_);
    return kinds_;
  }
  std::vector<std::string> transaction_ids() const {
    MutexLock lock(mu_);
    return tids_;
  }
  // The last request's PKCS#10.
  std::string last_csr() const {
    MutexLock lock(mu_);
    return last_csr_;
  }
  int issued() const {
    MutexLock lock(mu_);
    return issued_;
  }
  // The certificate that signed the last request (absent: a throw-away one).
  std::optional<pki::Certificate> last_signer() const {
    MutexLock lock(mu_);
    return last_signer_;
  }
  // A CA certificate it grants gets this pathLen (default none).
  void set_ca_path_len(std::optional<int> n) {
    MutexLock lock(mu_);
    ca_path_len_ = n;
  }
  // Certificates are issued from this time on, for a year.
  void set_now(TimePoint now) {
    MutexLock lock(mu_);
    now_ = now;
  }

  // Its own rollover: a next CA certificate for `key` (the same subject, valid from the
  // current one's end). Requests signed by a certificate (renewals, rollovers) are then
  // issued under it, from its start, and GetNextCACert answers it.
  void roll_over(const pki::Key& key) {
    const pki::Certificate& current = ca_.front();
    auto cert =
        pki::make_ca_certificate({.subject = current.subject(),
                                  .key = key,
                                  .serial = 2,
                                  .not_before = current.not_after(),
                                  .not_after = current.not_after() + std::chrono::days(3650)});
    MutexLock lock(mu_);
    next_key_ = key;
    next_ = *cert;
  }
  std::optional<pki::Certificate> next_ca_cert() const {
    MutexLock lock(mu_);
    return next_;
  }
  int next_ca_fetches() const {
    MutexLock lock(mu_);
    return next_fetches_;
  }

  Result<UpstreamCertificates> get_next_ca_cert(const std::string&, const std::string&,
                                                const UpstreamCertificates&) override {
    if (down()) return fail(unavailable("cannot reach the fake CA"));
    MutexLock lock(mu_);
    ++next_fetches_;
    if (!next_) return fail(unavailable("HTTP 404 from the fake CA for GetNextCACert"));
    UpstreamCertificates out;
    out.ca_chain = {*next_};
    return out;
  }

  Result<UpstreamCaps> get_ca_caps(const std::string&, const std::string&) override {
    if (down()) return fail(unavailable("cannot reach the fake CA"));
    UpstreamCaps caps;
    caps.post = caps.aes = caps.sha256 = caps.renewal = true;
    caps.announced = {"POSTPKIOperation", "AES", "SHA-256", "Renewal"};
    return caps;
  }
  Result<UpstreamCertificates> get_ca_cert(const std::string&, const std::string&) override {
    if (down()) return fail(unavailable("cannot reach the fake CA"));
    UpstreamCertificates out;
    out.ca_chain = ca_;
    return out;
  }
  // The CRL GetCRL answers (empty: HTTP 404, as from a CA that serves none).
  void set_crl(std::string der) {
    MutexLock lock(mu_);
    crl_ = std::move(der);
  }
  Result<std::string> get_crl(const std::string&, const std::string&) override {
    if (down()) return fail(unavailable("cannot reach the fake CA"));
    MutexLock lock(mu_);
    if (crl_.empty()) return fail(unavailable("HTTP 404 from the fake CA for GetCRL"));
    return crl_;
  }
  const pki::Key& key() const { return key_; }

  Result<UpstreamReply> send(const UpstreamRequest& req) override {
    Answer a;
    {
      MutexLock lock(mu_);
      kinds_.push_back(req.kind);
      tids_.push_back(req.transaction_id);
      last_csr_ = req.csr_der;
      last_signer_ = req.signer_cert;
      if (answers_.empty()) {
        a = fallback_;
      } else {
        a = answers_.front();
        answers_.pop_front();
      }
    }
    UpstreamReply reply;
    switch (a) {
      case Answer::kDown:
        return fail(unavailable("cannot reach 127.0.0.1: Connection refused"));
      case Answer::kForged:
        return fail(invalid_argument("the CertRep's signature does not verify"));
      case Answer::kPending:
        reply.status = UpstreamReply::Status::kPending;
        return reply;
      case Answer::kReject:
        reply.status = UpstreamReply::Status::kFailure;
        reply.fail_info = ScepFailInfo::kBadRequest;
        reply.fail_text = "rejected by the operator";
        return reply;
      case Answer::kUnknown:
        reply.status = UpstreamReply::Status::kFailure;
        reply.fail_info = ScepFailInfo::kBadCertId;
        return reply;
      case Answer::kGrant:
        break;
    }
    auto csr = pki::Csr::parse(req.csr_der);
    if (!csr.has_value()) return fail(csr.error());
    // As a scepterd CA does: a request re-signed by an RA it certified is the RA's word.
    std::optional<pki::Key> ra_key;
    if (!csr->verify_signature().ok() && req.signer_cert &&
        req.signer_cert->signed_by(ca_.front())) {
      if (auto k = req.signer_cert->public_key(); k.has_value()) ra_key = *k;
    }
    MutexLock lock(mu_);
    const bool under_next = next_ && req.signer_cert;
    const pki::Certificate& issuer = under_next ? *next_ : ca_.front();
    const TimePoint from = under_next ? next_->not_before() : now_;
    auto cert = pki::issue_certificate(
        {.csr = *csr,
         .csr_signer = ra_key ? &*ra_key : nullptr,
         .ca_cert = issuer,
         .ca_key = under_next ? *next_key_ : key_,
         .serial = pki::SerialNumber{static_cast<std::uint64_t>(100 + issued_)},
         .not_before = from,
         .not_after = from + std::chrono::days(365),
         .ca = pki::requests_ca_certificate(*csr)
                   ? std::optional<pki::CaProfile>(pki::CaProfile{.path_len = ca_path_len_})
                   : std::nullopt});
    if (!cert.has_value()) return fail(cert.error());
    ++issued_;
    reply.status = UpstreamReply::Status::kSuccess;
    reply.certificates = {issuer, *cert};
    return reply;
  }

 private:
  bool down() {
    MutexLock lock(mu_);
    return fallback_ == Answer::kDown && answers_.empty();
  }

  pki::Key key_;
  std::vector<pki::Certificate> ca_;
  mutable Mutex mu_;
  TimePoint now_ GUARDED_BY(mu_);
  std::optional<pki::Certificate> last_signer_ GUARDED_BY(mu_);
  std::optional<int> ca_path_len_ GUARDED_BY(mu_);
  std::optional<pki::Key> next_key_ GUARDED_BY(mu_);
  std::optional<pki::Certificate> next_ GUARDED_BY(mu_);
  int next_fetches_ GUARDED_BY(mu_) = 0;
  std::deque<Answer> answers_ GUARDED_BY(mu_);
  Answer fallback_ GUARDED_BY(mu_) = Answer::kGrant;
  std::vector<UpstreamRequest::Kind> kinds_ GUARDED_BY(mu_);
  std::vector<std::string> tids_ GUARDED_BY(mu_);
  std::string last_csr_ GUARDED_BY(mu_);
  std::string crl_ GUARDED_BY(mu_);
  int issued_ GUARDED_BY(mu_) = 0;
};

}  // namespace scepter::ca::testing
