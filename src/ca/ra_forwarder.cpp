#include "ca/ra_forwarder.h"

#include <vector>

#include <fmt/format.h>

#include "common/log.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

// More requests than this waiting upstream at once is far beyond `lifetime
// enrollment-request` limits; forgetting the times only allows one early exchange each.
constexpr std::size_t kMaxTracked = 100000;

}  // namespace

RaForwarder::RaForwarder(UpstreamCa& upstream, Clock& clock, pki::Certificate ra_cert,
                         pki::Key ra_key, bool transparent)
    : upstream_(upstream),
      clock_(clock),
      ra_cert_(std::move(ra_cert)),
      ra_key_(std::move(ra_key)),
      transparent_(transparent) {}

Result<std::string> RaForwarder::upstream_csr(const pki::Csr& client) const {
  if (transparent_) return client.der();
  std::vector<const X509_EXTENSION*> exts;
  for (const auto& e : client.requested_extensions()) exts.push_back(e.get());
  ASSIGN_OR_RETURN(pki::Csr resigned,
                   pki::make_csr(pki::CsrSpec{.subject = client.subject(),
                                              .key = ra_key_,
                                              .subject_key = &client.public_key(),
                                              .extensions = exts}));
  return resigned.der();
}

Result<pki::Certificate> RaForwarder::check_issued(const UpstreamTarget& target,
                                                   const pki::Csr& client,
                                                   const UpstreamReply& reply) const {
  for (const pki::Certificate& cert : reply.certificates) {
    auto key = cert.public_key();
    if (!key.has_value() || !key->equals_public(client.public_key())) continue;
    if (!cert.signed_by(target.certificates.issuing_ca())) {
      return fail(invalid_argument(
          fmt::format("the certificate for {} is not signed by the issuing CA {}",
                      pki::format_dn_ios(client.subject()),
                      pki::format_dn_ios(target.certificates.issuing_ca().subject()))));
    }
    if (cert.is_ca()) {
      return fail(invalid_argument(
          fmt::format("the issuing CA returned a CA certificate for {}; an RA hands out none",
                      pki::format_dn_ios(client.subject()))));
    }
    return cert;
  }
  return fail(
      invalid_argument(fmt::format("the issuing CA's answer holds no certificate for the key of {}",
                                   pki::format_dn_ios(client.subject()))));
}

Result<Forwarded> RaForwarder::send(const UpstreamTarget& target, const pki::Csr& client,
                                    const std::string& transaction_id, bool poll) {
  ASSIGN_OR_RETURN(std::string csr_der, upstream_csr(client));
  UpstreamRequest request;
  request.url = target.url;
  request.kind = poll ? UpstreamRequest::Kind::kCertPoll : UpstreamRequest::Kind::kPkcsReq;
  request.csr_der = std::move(csr_der);
  request.transaction_id = transaction_id;
  request.signer_cert = ra_cert_;
  request.signer_key = ra_key_;
  request.upstream = target.certificates;
  request.caps = target.caps;
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: RA: {} for transaction {} to {}",
             poll ? "CertPoll" : "PKCSReq", transaction_id, target.url);
  auto sent = upstream_.send(request);
  if (!sent.has_value()) {
    if (sent.error().code() == Code::kUnavailable) {
      MutexLock lock(mu_);
      unreachable_until_ = clock_.now() + kUnreachableBackoff;
    }
    return fail(sent.error());
  }
  const UpstreamReply& reply = *sent;
  Forwarded out;
  out.status = reply.status;
  switch (reply.status) {
    case UpstreamReply::Status::kSuccess: {
      ASSIGN_OR_RETURN(pki::Certificate cert, check_issued(target, client, reply));
      out.certificate = std::move(cert);
      break;
    }
    case UpstreamReply::Status::kPending:
      break;
    case UpstreamReply::Status::kFailure:
      out.fail_info = reply.fail_info.value_or(ScepFailInfo::kBadRequest);
      out.fail_text = reply.fail_text;
      break;
  }
  return out;
}

bool RaForwarder::claim_exchange(store::RequestId id, Seconds gap) {
  const TimePoint now = clock_.now();
  MutexLock lock(mu_);
  auto it = last_exchange_.find(id);
  // A clock set back makes every exchange due rather than none.
  if (it != last_exchange_.end() && now >= it->second && now - it->second < gap) return false;
  if (last_exchange_.size() >= kMaxTracked) last_exchange_.clear();
  last_exchange_[id] = now;
  return true;
}

bool RaForwarder::reachable() const {
  const TimePoint now = clock_.now();
  MutexLock lock(mu_);
  // A clock set back does not prolong the pause.
  return now >= unreachable_until_ || unreachable_until_ - now > kUnreachableBackoff;
}

void RaForwarder::forget(store::RequestId id) {
  MutexLock lock(mu_);
  last_exchange_.erase(id);
}

}  // namespace scepter::ca
