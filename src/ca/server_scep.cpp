// CertificateServer: what SCEP needs — enrolment keyed by transactionID, polling, and
// GetCert. Every decision is the request policy's (request_policy.h).

#include <functional>
#include <string_view>

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/server_runtime.h"
#include "common/log.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

// Whether two PKCS#10 requests are for the same key. An unreadable stored one is not
// compared: nothing can be issued for it anyway.
bool same_key(std::string_view stored_der, const pki::Csr& csr) {
  auto stored = pki::Csr::parse(stored_der);
  return !stored.has_value() || stored->public_key().equals_public(csr.public_key());
}

}  // namespace

ScepOutcome scep_failure(ScepFailInfo info, std::string text, RequestId id) {
  ScepOutcome o;
  o.status = ScepOutcome::Status::kFailure;
  o.fail_info = info;
  o.fail_text = std::move(text);
  o.request_id = id;
  return o;
}

ScepOutcome scep_pending(RequestId id) {
  ScepOutcome o;
  o.status = ScepOutcome::Status::kPending;
  o.request_id = id;
  return o;
}

ScepOutcome scep_success(pki::Certificate cert, RequestId id) {
  ScepOutcome o;
  o.status = ScepOutcome::Status::kSuccess;
  o.certificate = std::move(cert);
  o.request_id = id;
  return o;
}

ScepOutcome scep_outcome(const Decision& d, std::optional<pki::Certificate> cert, RequestId id) {
  switch (d.verdict) {
    case Verdict::kGrant:
      return scep_success(std::move(*cert), id);
    case Verdict::kPending:
      return scep_pending(id);
    case Verdict::kReject:
      return scep_failure(d.fail_info, d.reason, id);
  }
  return scep_pending(id);
}

// SCEP requests with the same transactionID are serialised, so a retry never creates a
// second request; different transactions run in parallel.
Mutex& CertificateServer::transaction_stripe(Runtime& rt, const std::string& tid) {
  return rt.transaction_mu[std::hash<std::string>{}(tid) % Runtime::kTransactionStripes];
}

Result<SigningIdentity> CertificateServer::signing_identity() const {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  if (rt->issuer && rt->encryption_cert) {
    // `scep encryption-key`: that key answers SCEP as the CA's own RA would (clients
    // encrypt to it, it signs the replies), and the CA heads the chain above it.
    std::vector<pki::Certificate> chain{*rt->ca_cert};
    chain.insert(chain.end(), rt->upper_chain.begin(), rt->upper_chain.end());
    return SigningIdentity{*rt->encryption_cert, *rt->encryption_key, std::move(chain)};
  }
  return SigningIdentity{*rt->ca_cert, *rt->ca_key, rt->upper_chain, rt->encryption_cert,
                         rt->encryption_key};
}

Result<pki::Certificate> CertificateServer::certificate_by_serial(
    const pki::SerialNumber& serial) const {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  if (rt->forwarder) {
    // The RA's own numbering is not the issuing CA's serials: ask the issuing CA.
    return fail(not_found("an RA does not look certificates up by serial number"));
  }
  ASSIGN_OR_RETURN(store::CertRecord rec, rt->store->certificate(serial.sequence));
  if (rec.serial_entropy != serial.entropy) {
    return fail(not_found("no certificate with serial number " + serial.hex()));
  }
  return pki::Certificate::from_der(rec.der);
}

// A request that is no longer open: the answer it got stays its answer.
Result<ScepOutcome> CertificateServer::answer_closed(Runtime& rt, const RequestRecord& r) {
  if (r.state == RequestState::kGranted) {
    if (!r.serial) return fail(internal_error("granted request without a certificate"));
    ASSIGN_OR_RETURN(store::CertRecord rec, rt.store->certificate(*r.serial));
    ASSIGN_OR_RETURN(pki::Certificate cert, pki::Certificate::from_der(rec.der));
    if (Status s = ensure_cert_files(config(), rec); !s.ok()) {
      fail_critical(unavailable("cannot write certificate files: " + s.message()));
    }
    return scep_success(std::move(cert), r.id);
  }
  if (r.state == RequestState::kMalformed) {
    return scep_failure(ScepFailInfo::kBadMessageCheck, "The request is malformed.", r.id);
  }
  return scep_failure(ScepFailInfo::kBadRequest,
                      r.reason.empty() ? "The request was rejected." : r.reason, r.id);
}

// A stored request examined again (CertPoll, or a PKCSReq/RenewalReq resent with its
// transactionID). IOS examines a request again at each poll: a mode changed to `grant
// auto`, or an operator's grant, takes effect now — and an RA revoked since no longer
// vouches for what it forwarded.
Result<ScepOutcome> CertificateServer::scep_answer_existing(Runtime& rt, const RequestRecord& r) {
  if (rt.forwarder) return ra_answer_existing(rt, r);
  if (!is_open_state(r.state)) return answer_closed(rt, r);
  const ServerConfig cfg = config();
  // Serialised with the operator's grant/reject so that a request is issued once.
  MutexLock lock(rt.request_mu);
  ASSIGN_OR_RETURN(RequestRecord fresh, rt.store->request(r.id));
  if (!is_open_state(fresh.state)) return answer_closed(rt, fresh);
  auto csr = pki::Csr::parse(fresh.csr_der);
  if (!csr.has_value()) {
    return fail(internal_error("stored request " + std::to_string(r.id) +
                               " is unreadable: " + csr.error().message()));
  }
  // An ACME order's request: vouched for when its names were validated (stored
  // "authorized").
  std::optional<bool> acme;
  if (static_cast<RequestSource>(fresh.flags & 3) == RequestSource::kAcme) {
    acme = fresh.state == RequestState::kAuthorized;
  }
  ASSIGN_OR_RETURN(Evaluation ev, evaluate(rt, *csr, RequestPath::kPoll, fresh.signer_cert_der, cfg,
                                           false, std::nullopt, acme));
  if (ev.decision.verdict != Verdict::kGrant) return scep_outcome(ev.decision, {}, fresh.id);
  auto cert = issue_granted(rt, fresh, *csr, ev, cfg, {}, true);
  if (!cert.has_value() && cert.error().code() == Code::kAborted) {
    // Decided meanwhile on another node: answer with what it decided.
    ASSIGN_OR_RETURN(RequestRecord now, rt.store->request(r.id));
    if (is_open_state(now.state)) return scep_pending(now.id);
    return answer_closed(rt, now);
  }
  if (!cert.has_value()) return fail(cert.error());
  return scep_success(std::move(*cert), fresh.id);
}

Result<ScepOutcome> CertificateServer::scep_poll(const std::string& transaction_id) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  MutexLock tlock(transaction_stripe(*rt, transaction_id));
  auto r = rt->store->request_by_transaction(transaction_id);
  if (r.has_value() && static_cast<RequestSource>(r->flags & 3) == RequestSource::kAcme) {
    r = fail(not_found("an ACME order's request"));  // not SCEP's to answer
  }
  if (!r.has_value()) {
    if (r.error().code() == Code::kNotFound) {
      return scep_failure(ScepFailInfo::kBadCertId, "No request has this transactionID.");
    }
    return fail(r.error());
  }
  return scep_answer_existing(*rt, *r);
}

// A request forwarded by one of our RAs that re-signed it (ra_forwarder.h): the PKCS#10
// is signed by the RA's key, and the RA vouches for the requester holding its key.
bool CertificateServer::resigned_by_ra(Runtime& rt, const pki::Csr& csr,
                                       const ScepRequest& scep) const {
  if (rt.forwarder) return false;  // an RA takes requests from clients only
  std::optional<pki::Certificate> signer;
  // A revoked RA's request gets past this check so that the policy can refuse it for
  // what it is (a revoked signer, badRequest) rather than as unverifiable.
  const Signer by = classify_signer(rt, scep.signer_cert_der, signer);
  if (by != Signer::kRa && !(by == Signer::kRevoked && is_ra_certificate_name(signer->subject()))) {
    return false;
  }
  auto key = signer->public_key();
  if (!key.has_value() || !csr.verify_signature_with(*key).ok()) return false;
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: transaction {}: PKCS#10 re-signed by the RA {}",
             scep.transaction_id, pki::format_dn_ios(signer->subject()));
  return true;
}

Result<ScepOutcome> CertificateServer::scep_enroll(std::string_view csr_der,
                                                   const ScepRequest& scep) {
  if (!runtime()) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  // Decrypted bytes that are not a request we can verify: the same answer as an envelope
  // that cannot be opened (no oracle on the envelope's padding); details to the trace.
  auto csr = pki::Csr::parse(csr_der);
  if (!csr.has_value()) {
    log::trace(log::Category::kPkiServer, "CRYPTO_CS: transaction {}: not a usable PKCS#10: {}",
               scep.transaction_id, csr.error().message());
    return scep_failure(ScepFailInfo::kBadMessageCheck, "the request cannot be verified");
  }
  return scep_enroll(*csr, scep);
}

Result<ScepOutcome> CertificateServer::scep_enroll(const pki::Csr& csr, const ScepRequest& scep) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  if (Status s = csr.verify_signature(); !s.ok() && !resigned_by_ra(*rt, csr, scep)) {
    log::trace(log::Category::kPkiServer, "CRYPTO_CS: transaction {}: PKCS#10 signature invalid",
               scep.transaction_id);
    return scep_failure(ScepFailInfo::kBadMessageCheck, "the request cannot be verified");
  }
  MutexLock tlock(transaction_stripe(*rt, scep.transaction_id));
  // A request stored for this transaction answers it.
  auto answer_stored = [&](const RequestRecord& existing) -> Result<ScepOutcome> {
    // The transactionID stands for the key it was first used with (IOS derives it
    // from the key): another key under it must not get that key's certificate.
    if (!same_key(existing.csr_der, csr)) {
      return scep_failure(ScepFailInfo::kBadRequest,
                          "The transactionID belongs to a request for another key.", existing.id);
    }
    return scep_answer_existing(*rt, existing);
  };
  if (!scep.transaction_id.empty()) {
    auto existing = rt->store->request_by_transaction(scep.transaction_id);
    if (existing.has_value() &&
        static_cast<RequestSource>(existing->flags & 3) == RequestSource::kAcme) {
      return scep_failure(ScepFailInfo::kBadRequest,
                          "The transactionID belongs to another request.", existing->id);
    }
    if (existing.has_value()) return answer_stored(*existing);
    if (existing.error().code() != Code::kNotFound) return fail(existing.error());
  }
  const ServerConfig cfg = config();
  RequestRecord req;
  req.transaction_id = scep.transaction_id;
  req.signer_cert_der = scep.signer_cert_der;
  req.created = deps_.clock.now();
  req.flags = static_cast<int>(RequestSource::kScep);
  req.csr_der = csr.der();
  req.fingerprint = csr.md5_fingerprint();
  req.subject = pki::format_dn_ios(csr.subject());
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: received {}, transaction {} ({})",
             scep.renewal ? "RenewalReq" : "PKCSReq", req.transaction_id, req.subject);
  // A new request needs no request lock: nobody else can act on it before it is stored.
  // An RA renews nothing itself: a RenewalReq is a request like any other, which the
  // issuing CA receives in the RA's name.
  const RequestPath path =
      scep.renewal && !rt->forwarder ? RequestPath::kRenewalReq : RequestPath::kPkcsReq;
  auto decided = decide_and_record(*rt, req, csr, path, cfg, scep.while_committing, scep.password);
  if (!decided.has_value() && decided.error().code() == Code::kAlreadyExists &&
      !scep.transaction_id.empty()) {
    // Another node sharing the database stored a request for this transaction meanwhile
    // (the client resent it through a balancer): that request answers it. What this
    // one would have written, certificate included, was not.
    auto existing = rt->store->request_by_transaction(scep.transaction_id);
    if (existing.has_value()) {
      log::info("certificate server {}: transaction {} was stored meanwhile by another node",
                label_, scep.transaction_id);
      return answer_stored(*existing);
    }
  }
  if (!decided.has_value()) return fail(decided.error());
  return scep_outcome(decided->decision, std::move(decided->certificate), req.id);
}

}  // namespace scepter::ca
