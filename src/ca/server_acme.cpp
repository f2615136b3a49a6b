// CertificateServer: what ACME needs of the CA — an order's CSR decided by the request
// policy, stored under the order's own transaction, and its answer later. What ACME
// validated (names, account) is the acme module's; this file sees its conclusion only.

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/server_runtime.h"
#include "common/log.h"
#include "pki/name.h"

namespace scepter::ca {

std::string acme_transaction(const std::string& order_id) { return "acme#" + order_id; }

Result<ScepOutcome> CertificateServer::acme_enroll(const pki::Csr& csr, const std::string& order_id,
                                                   bool validated) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  if (rt->forwarder) {
    return scep_failure(ScepFailInfo::kBadRequest,
                        "certificate server " + label_ + " is an RA: it takes no ACME orders");
  }
  if (Status s = csr.verify_signature(); !s.ok()) {
    return scep_failure(ScepFailInfo::kBadMessageCheck, "the CSR's signature does not verify");
  }
  const std::string tid = acme_transaction(order_id);
  MutexLock tlock(transaction_stripe(*rt, tid));
  auto existing = rt->store->request_by_transaction(tid);
  if (existing.has_value()) {
    // The order was finalized before: its request answers, for the key it was for.
    auto stored = pki::Csr::parse(existing->csr_der);
    if (stored.has_value() && !stored->public_key().equals_public(csr.public_key())) {
      return scep_failure(ScepFailInfo::kBadRequest,
                          "The order was finalized with a request for another key.", existing->id);
    }
    return scep_answer_existing(*rt, *existing);
  }
  if (existing.error().code() != Code::kNotFound) return fail(existing.error());

  const ServerConfig cfg = config();
  RequestRecord req;
  req.transaction_id = tid;
  req.created = deps_.clock.now();
  req.flags = static_cast<int>(RequestSource::kAcme);
  req.csr_der = csr.der();
  req.fingerprint = csr.md5_fingerprint();
  req.subject = pki::format_dn_ios(csr.subject());
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: ACME order {} finalized ({})", order_id,
             req.subject);
  auto decided =
      decide_and_record(*rt, req, csr, RequestPath::kAcme, cfg, {}, std::nullopt, validated);
  if (!decided.has_value() && decided.error().code() == Code::kAlreadyExists) {
    // Another node stored this order's request meanwhile: that one answers.
    auto now = rt->store->request_by_transaction(tid);
    if (now.has_value()) return scep_answer_existing(*rt, *now);
  }
  if (!decided.has_value()) return fail(decided.error());
  return scep_outcome(decided->decision, std::move(decided->certificate), req.id);
}

Result<std::shared_ptr<store::Store>> CertificateServer::acme_store() const {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  store::Store* store = rt->store.get();
  return std::shared_ptr<store::Store>(std::move(rt), store);
}

Result<ScepOutcome> CertificateServer::acme_poll(const std::string& order_id) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  const std::string tid = acme_transaction(order_id);
  MutexLock tlock(transaction_stripe(*rt, tid));
  auto r = rt->store->request_by_transaction(tid);
  if (!r.has_value()) {
    if (r.error().code() == Code::kNotFound) {
      return scep_failure(ScepFailInfo::kBadCertId, "The order has no request.");
    }
    return fail(r.error());
  }
  return scep_answer_existing(*rt, *r);
}

}  // namespace scepter::ca
