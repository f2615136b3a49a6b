// CertificateServer: what SCEP needs — enrolment keyed by transactionID, polling,
// renewal authorised by a certificate of this CA, RA-authorised requests, GetCert.

#include <algorithm>
#include <functional>
#include <string_view>

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/server_runtime.h"
#include "common/log.h"
#include "pki/issuer.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

ScepOutcome failure(ScepFailInfo info, std::string text, RequestId id = 0) {
  ScepOutcome o;
  o.status = ScepOutcome::Status::kFailure;
  o.fail_info = info;
  o.fail_text = std::move(text);
  o.request_id = id;
  return o;
}

ScepOutcome pending(RequestId id) {
  ScepOutcome o;
  o.status = ScepOutcome::Status::kPending;
  o.request_id = id;
  return o;
}

ScepOutcome success(pki::Certificate cert, RequestId id) {
  ScepOutcome o;
  o.status = ScepOutcome::Status::kSuccess;
  o.certificate = std::move(cert);
  o.request_id = id;
  return o;
}

// Whether two PKCS#10 requests are for the same key. An unreadable one is not compared:
// the answer recorded for it covers that case.
bool same_key(std::string_view a_der, std::string_view b_der) {
  auto a = pki::Csr::parse(a_der);
  auto b = pki::Csr::parse(b_der);
  return !a.has_value() || !b.has_value() || a->public_key().equals_public(b->public_key());
}

}  // namespace

Result<SigningIdentity> CertificateServer::signing_identity() const {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  return SigningIdentity{*rt->ca_cert, *rt->ca_key};
}

Result<pki::Certificate> CertificateServer::certificate_by_serial(Serial serial) const {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  ASSIGN_OR_RETURN(store::CertRecord rec, rt->store->certificate(serial));
  return pki::Certificate::from_der(rec.der);
}

// A certificate this server issued, still valid and not revoked: the byte-identical
// certificate is in our database, so the signature check is implied.
bool CertificateServer::issued_by_us(Runtime& rt, const pki::Certificate& cert) const {
  auto serial = cert.serial();
  if (!serial.has_value() || *serial == 1) return false;
  auto rec = rt.store->certificate(*serial);
  if (!rec.has_value() || rec->der != cert.der() || rec->revoked_at.has_value()) return false;
  const TimePoint now = deps_.clock.now();
  return cert.not_before() <= now && now < cert.not_after();
}

Result<ScepOutcome> CertificateServer::scep_answer_existing(Runtime& rt, RequestRecord& r) {
  switch (r.state) {
    case RequestState::kGranted: {
      if (!r.serial) return failure(ScepFailInfo::kBadCertId, "granted certificate missing", r.id);
      ASSIGN_OR_RETURN(store::CertRecord rec, rt.store->certificate(*r.serial));
      ASSIGN_OR_RETURN(pki::Certificate cert, pki::Certificate::from_der(rec.der));
      return success(std::move(cert), r.id);
    }
    case RequestState::kDenied:
      return failure(ScepFailInfo::kBadRequest, "the request was rejected", r.id);
    case RequestState::kMalformed:
      return failure(ScepFailInfo::kBadMessageCheck, "the request is malformed", r.id);
    case RequestState::kPending:
    case RequestState::kAuthorized:
    case RequestState::kInitial: {
      // IOS examines the request again at each poll: a policy changed to `grant auto`
      // since, or an operator's grant, takes effect now.
      const GrantMode mode = config().grant;
      if (mode == GrantMode::kAuto || r.state == RequestState::kAuthorized) {
        std::lock_guard<std::mutex> lock(rt.request_mu);
        auto fresh = rt.store->request(r.id);
        if (!fresh.has_value()) return fail(fresh.error());
        if (fresh->state == RequestState::kGranted) return scep_answer_existing(rt, *fresh);
        ASSIGN_OR_RETURN(pki::Certificate cert, issue_for(rt, *fresh));
        return success(std::move(cert), r.id);
      }
      if (mode == GrantMode::kNone) {
        return failure(ScepFailInfo::kBadRequest, "all requests are rejected", r.id);
      }
      return pending(r.id);
    }
  }
  return pending(r.id);
}

Result<ScepOutcome> CertificateServer::scep_poll(const std::string& transaction_id) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  std::lock_guard<std::mutex> tlock(
      rt->transaction_mu[std::hash<std::string>{}(transaction_id) % Runtime::kTransactionStripes]);
  auto r = rt->store->request_by_transaction(transaction_id);
  if (!r.has_value()) {
    if (r.error().code() == Code::kNotFound) {
      return failure(ScepFailInfo::kBadCertId, "no request with this transactionID");
    }
    return fail(r.error());
  }
  return scep_answer_existing(*rt, *r);
}

Result<ScepOutcome> CertificateServer::scep_enroll(std::string_view csr_der,
                                                   const ScepRequest& scep) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  std::lock_guard<std::mutex> tlock(
      rt->transaction_mu[std::hash<std::string>{}(scep.transaction_id) %
                         Runtime::kTransactionStripes]);
  if (!scep.transaction_id.empty()) {
    auto existing = rt->store->request_by_transaction(scep.transaction_id);
    if (existing.has_value()) {
      // The transactionID stands for the key it was first used with (IOS derives it
      // from the key): another key under it must not get that key's certificate.
      if (!same_key(existing->csr_der, csr_der)) {
        return failure(ScepFailInfo::kBadRequest,
                       "the transactionID belongs to a request for another key", existing->id);
      }
      return scep_answer_existing(*rt, *existing);
    }
    if (existing.error().code() != Code::kNotFound) return fail(existing.error());
  }
  const ServerConfig cfg = config();
  RequestRecord req;
  req.transaction_id = scep.transaction_id;
  req.signer_cert_der = scep.signer_cert_der;
  req.created = deps_.clock.now();
  req.flags = static_cast<int>(RequestSource::kScep);
  {
    std::lock_guard<std::mutex> lock(rt->alloc_mu);
    req.id = ++rt->last_request;
  }
  auto record = [&](RequestState state) -> Status {
    req.state = state;
    store::WriteBatch batch;
    batch.put_request(req);
    batch.put_meta(kMetaLastRequest, std::to_string(req.id));
    return rt->store->write(batch);
  };

  auto csr = pki::Csr::parse(csr_der);
  if (!csr.has_value()) {
    req.csr_der = std::string(csr_der);
    req.fingerprint = pki::md5_hex(csr_der);
    req.subject = "(unreadable request)";
    RETURN_IF_ERROR(record(RequestState::kMalformed));
    return failure(ScepFailInfo::kBadRequest, "not a PKCS#10 request: " + csr.error().message(),
                   req.id);
  }
  req.csr_der = csr->der();
  req.fingerprint = csr->md5_fingerprint();
  req.subject = pki::format_dn_ios(csr->subject());
  req.kind = is_ra_name(req.subject) ? store::RequestKind::kRa : store::RequestKind::kRouter;
  log::trace(log::Category::kPkiServer,
             "CRYPTO_CS: received PKCSReq, transaction {}, request {} ({})", req.transaction_id,
             req.id, req.subject);
  if (Status s = csr->verify_signature(); !s.ok()) {
    RETURN_IF_ERROR(record(RequestState::kMalformed));
    return failure(ScepFailInfo::kBadMessageCheck, "the PKCS#10 signature is invalid", req.id);
  }
  const pki::Key& pub = csr->public_key();
  if (pub.is_rsa() && pub.bits() < kMinRsaBits) {
    RETURN_IF_ERROR(record(RequestState::kDenied));
    return failure(ScepFailInfo::kBadRequest,
                   fmt::format("RSA keys of {} bits are refused; at least {} are required",
                               pub.bits(), kMinRsaBits),
                   req.id);
  }
  if (pki::requests_ca_certificate(*csr)) {
    RETURN_IF_ERROR(record(RequestState::kDenied));
    return failure(ScepFailInfo::kBadRequest, "the request asks for a CA certificate", req.id);
  }

  // Who signed the message decides what it may do. Only a certificate of ours can
  // authorise anything, and ours carry the CA certificate's subject, byte for byte, as
  // their issuer: a signer without those bytes (the usual throw-away self-signed one) is
  // not parsed, which would decode its public key again (costly: docs/performance.md).
  std::optional<pki::Certificate> signer;
  if (!scep.signer_cert_der.empty() &&
      pki::der_contains_name(scep.signer_cert_der, rt->ca_cert->subject())) {
    if (auto c = pki::Certificate::from_der(scep.signer_cert_der); c.has_value()) signer = *c;
  }
  const bool signer_is_ours = signer && issued_by_us(*rt, *signer);
  if (scep.renewal && !signer_is_ours) {
    RETURN_IF_ERROR(record(RequestState::kDenied));
    return failure(ScepFailInfo::kBadRequest,
                   "RenewalReq must be signed by a valid certificate of this CA", req.id);
  }
  bool grant_now = false;
  if (cfg.grant == GrantMode::kNone) {
    RETURN_IF_ERROR(record(RequestState::kDenied));
    return failure(ScepFailInfo::kBadRequest, "all requests are rejected", req.id);
  }
  if (signer_is_ours && !is_ra_name(pki::format_dn_ios(signer->subject()))) {
    // Renewal: authorised by the certificate that signed it (RFC 8894 §3.3.1.2; IOS,
    // macOS and sscep renew with a PKCSReq signed by the old certificate).
    log::trace(log::Category::kPkiServer, "CRYPTO_CS: request {} is a renewal of 0x{}", req.id,
               signer->serial_hex());
    grant_now = true;
  } else if (signer_is_ours) {
    // Forwarded by a registration authority of ours.
    req.state = RequestState::kAuthorized;
    grant_now = cfg.grant == GrantMode::kRaAuto || cfg.grant == GrantMode::kAuto;
  } else if (cfg.grant == GrantMode::kAuto) {
    grant_now = true;
  } else {
    auto challenge = csr->challenge_password();
    if (challenge.has_value() && !challenge->empty() && consume_password(*challenge)) {
      log::trace(log::Category::kPkiServer, "CRYPTO_CS: request {} carries the one-time password",
                 req.id);
      grant_now = true;
    }
  }
  if (!grant_now) {
    RETURN_IF_ERROR(record(req.state == RequestState::kAuthorized ? RequestState::kAuthorized
                                                                  : RequestState::kPending));
    return pending(req.id);
  }
  ASSIGN_OR_RETURN(pki::Certificate cert, issue_for(*rt, req, &*csr));
  return success(std::move(cert), req.id);
}

}  // namespace scepter::ca
