// CertificateServer in RA mode (`mode ra [transparent]`): the requests the RA grants go
// to the issuing CA in the RA's name (ra_forwarder.h), and the answers come back to the
// RA's clients when they poll.
//
// A request's states on the RA: pending (waiting for the RA's operator) -> authorized
// (granted by the RA; sent, or being sent, to the issuing CA) -> granted (the issuing
// CA's certificate is stored; the client's next poll gets it) or denied (the issuing CA
// refused; the client gets its failInfo). An authorized request is asked about again
// every `enrollment retry period` of the RA's trustpoint, and when its client polls (at
// most every kClientPollGap), until it is answered or `lifetime enrollment-request`
// removes it.
//
// Each change of state is published on the event hub as on a CA (server_requests.cpp):
// the request authorized (stored, on its way to the issuing CA), then granted with the
// certificate received ("issued", by the RA's own serial), or rejected.

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/server_runtime.h"
#include "common/log.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

// A client's CertPoll sends a CertPoll upstream at most this often per request.
constexpr Seconds kClientPollGap{5};
// How often the timer looks for requests due for an exchange with the issuing CA.
constexpr Seconds kUpstreamScanGap{10};

}  // namespace

bool is_ra_mode(const ServerConfig& config) {
  return config.mode == ServerMode::kRa || config.mode == ServerMode::kRaTransparent;
}

Status CertificateServer::ra_authorize(Runtime& rt, RequestRecord& req, const Evaluation& ev) {
  CA_ASSERT(ev.decision.verdict == Verdict::kGrant, "authorizing without a grant");
  store::WriteBatch batch;
  if (ev.decision.consumes_otp) {
    if (!ev.password.has_value() || !rt.otp->add_consumption(*ev.password, batch)) {
      return not_found("The one-time password was used or expired meanwhile.");
    }
  }
  if (req.transaction_id.empty()) {
    // A request pasted on the RA's console: the issuing CA still needs a transactionID.
    ASSIGN_OR_RETURN(std::string nonce, pki::random_bytes(16));
    req.transaction_id = pki::hex_upper(nonce);
  }
  req.state = RequestState::kAuthorized;
  req.flags &= ~kFlagSentUpstream;
  batch.put_request(req);
  RETURN_IF_ERROR(rt.store->write(batch));
  if (ev.decision.consumes_otp) rt.otp->consumed();
  notify(EventKind::kRequest, std::to_string(req.id), "authorized");
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: RA: request {} ({}) authorized", req.id,
             req.subject);
  return ok_status();
}

Result<ScepOutcome> CertificateServer::ra_forward(Runtime& rt, RequestRecord& req,
                                                  const pki::Csr& csr) {
  if (!deps_.superior_target) {
    return fail(unavailable("This scepterd has no SCEP client to reach the issuing CA."));
  }
  auto target = deps_.superior_target();
  (void)rt.forwarder->claim_exchange(req.id, Seconds(0));
  if (!target.has_value()) {
    log::warn("certificate server {}: request {} waits: {}", label_, req.id,
              target.error().message());
    return scep_pending(req.id);
  }
  if (!rt.forwarder->reachable()) {
    log::trace(log::Category::kPkiServer,
               "CRYPTO_CS: RA: request {} waits: the issuing CA was unreachable moments ago",
               req.id);
    return scep_pending(req.id);
  }
  const bool poll = (req.flags & kFlagSentUpstream) != 0;
  if (!poll) {
    // Recorded before the message leaves: after a crash the RA asks about the request
    // rather than sending it again (an issuing CA that does not key requests by
    // transactionID would issue a second certificate).
    req.flags |= kFlagSentUpstream;
    store::WriteBatch batch;
    batch.put_request(req);
    RETURN_IF_ERROR(rt.store->write(batch));
  }
  auto answer = rt.forwarder->send(*target, csr, req.transaction_id, poll);
  if (!answer.has_value()) {
    // Nothing was decided: the request stays authorized and is asked about again.
    log::warn("certificate server {}: request {}: no usable answer from the issuing CA: {}", label_,
              req.id, answer.error().message());
    return scep_pending(req.id);
  }
  switch (answer->status) {
    case UpstreamReply::Status::kPending:
      log::trace(log::Category::kPkiServer,
                 "CRYPTO_CS: RA: request {} is pending at the issuing CA", req.id);
      return scep_pending(req.id);
    case UpstreamReply::Status::kFailure: {
      if (poll && answer->fail_info == ScepFailInfo::kBadCertId) {
        // The issuing CA knows no such transaction (the request never arrived, or its
        // operator removed it): it is sent again next time.
        req.flags &= ~kFlagSentUpstream;
        store::WriteBatch batch;
        batch.put_request(req);
        RETURN_IF_ERROR(rt.store->write(batch));
        return scep_pending(req.id);
      }
      req.state = RequestState::kDenied;
      req.reason = fmt::format("The issuing CA rejected the request ({}){}",
                               fail_info_name(answer->fail_info),
                               answer->fail_text.empty() ? "" : ": " + answer->fail_text);
      store::WriteBatch batch;
      batch.put_request(req);
      RETURN_IF_ERROR(rt.store->write(batch));
      rt.forwarder->forget(req.id);
      notify(EventKind::kRequest, std::to_string(req.id), "rejected");
      log::info("certificate server {}: request {} ({}): {}", label_, req.id, req.subject,
                req.reason);
      return scep_failure(answer->fail_info, req.reason, req.id);
    }
    case UpstreamReply::Status::kSuccess:
      break;
  }
  // The RA keeps what it hands out, numbered in its own sequence (the certificate's
  // serial is the issuing CA's), so that a client's resend gets the same certificate.
  const pki::Certificate& cert = *answer->certificate;
  ASSIGN_OR_RETURN(Serial local, rt.store->allocate_serial());
  store::CertRecord rec = certificate_record(cert, local);
  rec.request_id = req.id;
  req.state = RequestState::kGranted;
  req.serial = local;
  req.reason.clear();
  store::WriteBatch batch;
  batch.put_certificate(rec);
  batch.put_request(req);
  RETURN_IF_ERROR(rt.store->write(batch));
  rt.forwarder->forget(req.id);
  notify(EventKind::kRequest, std::to_string(req.id), "granted");
  notify(EventKind::kCertificate, pki::SerialNumber{rec.serial, rec.serial_entropy}.hex(),
         "issued");
  log::info("certificate server {}: request {} ({}) granted by the issuing CA", label_, req.id,
            req.subject);
  return scep_success(cert, req.id);
}

// A client asks about its request again (CertPoll, or its PKCSReq resent).
Result<ScepOutcome> CertificateServer::ra_answer_existing(Runtime& rt, const RequestRecord& r) {
  if (!is_open_state(r.state)) return answer_closed(rt, r);
  const ServerConfig cfg = config();
  RequestRecord fresh;
  std::optional<pki::Csr> csr;
  {
    // Serialised with the operator's grant/reject; the exchange upstream is not.
    MutexLock lock(rt.request_mu);
    ASSIGN_OR_RETURN(fresh, rt.store->request(r.id));
    if (!is_open_state(fresh.state)) return answer_closed(rt, fresh);
    auto parsed = pki::Csr::parse(fresh.csr_der);
    if (!parsed.has_value()) {
      return fail(internal_error("stored request " + std::to_string(r.id) +
                                 " is unreadable: " + parsed.error().message()));
    }
    csr = std::move(*parsed);
    if (fresh.state != RequestState::kAuthorized) {
      // Still the RA's decision: `grant auto` set meanwhile takes effect now.
      ASSIGN_OR_RETURN(Evaluation ev,
                       evaluate(rt, *csr, RequestPath::kPoll, fresh.signer_cert_der, cfg, false));
      if (ev.decision.verdict != Verdict::kGrant) {
        return scep_outcome(ev.decision, std::nullopt, fresh.id);
      }
      RETURN_IF_ERROR(ra_authorize(rt, fresh, ev));
    } else if (!rt.forwarder->claim_exchange(fresh.id, kClientPollGap)) {
      return scep_pending(fresh.id);
    }
  }
  return ra_forward(rt, fresh, *csr);
}

// An authorized request, by id, from the operator's grant or the timer.
Result<ScepOutcome> CertificateServer::ra_forward_stored(Runtime& rt, RequestId id) {
  ASSIGN_OR_RETURN(RequestRecord r, rt.store->request(id));
  MutexLock tlock(transaction_stripe(rt, r.transaction_id));
  ASSIGN_OR_RETURN(RequestRecord fresh, rt.store->request(id));
  if (!is_open_state(fresh.state)) return answer_closed(rt, fresh);
  if (fresh.state != RequestState::kAuthorized) return scep_pending(fresh.id);
  ASSIGN_OR_RETURN(pki::Csr csr, pki::Csr::parse(fresh.csr_der));
  return ra_forward(rt, fresh, csr);
}

Result<std::vector<IssuedCertificate>> CertificateServer::ra_grant(Runtime& rt,
                                                                   std::optional<RequestId> id) {
  const ServerConfig cfg = config();
  std::vector<RequestId> authorized;
  {
    MutexLock lock(rt.request_mu);
    ASSIGN_OR_RETURN(std::vector<RequestRecord> todo, open_requests(rt, id, "granted"));
    for (auto& r : todo) {
      // Already forwarded: the operator's grant asks the issuing CA again now.
      if (r.state == RequestState::kAuthorized) {
        authorized.push_back(r.id);
        continue;
      }
      auto csr = pki::Csr::parse(r.csr_der);
      if (!csr.has_value()) {
        if (id.has_value()) return fail(csr.error());
        continue;
      }
      ASSIGN_OR_RETURN(Evaluation ev,
                       evaluate(rt, *csr, RequestPath::kShellGrant, r.signer_cert_der, cfg, false));
      if (ev.decision.verdict != Verdict::kGrant) {
        if (id.has_value()) return fail(permission_denied(ev.decision.reason));
        log::warn("certificate server {}: request {} not granted: {}", label_, r.id,
                  ev.decision.reason);
        continue;
      }
      RETURN_IF_ERROR(ra_authorize(rt, r, ev));
      authorized.push_back(r.id);
    }
  }
  std::vector<IssuedCertificate> out;
  for (RequestId rid : authorized) {
    auto outcome = ra_forward_stored(rt, rid);
    if (!outcome.has_value()) {
      if (id.has_value()) return fail(outcome.error());
      log::warn("certificate server {}: request {}: {}", label_, rid, outcome.error().message());
      continue;
    }
    if (outcome->status == ScepOutcome::Status::kFailure && id.has_value()) {
      return fail(permission_denied(outcome->fail_text));
    }
    if (outcome->status != ScepOutcome::Status::kSuccess) continue;
    auto r = rt.store->request(rid);
    const auto source =
        r.has_value() ? static_cast<RequestSource>(r->flags & 3) : RequestSource::kScep;
    out.push_back({rid, source, std::move(*outcome->certificate)});
  }
  return out;
}

void CertificateServer::poll_upstream() {
  auto rt = runtime();
  if (!rt || !rt->forwarder || !deps_.superior_target) return;
  // The retry period is a minute or more: looking every few seconds is enough, and spares
  // a database that keeps many answered requests a scan every second.
  const std::int64_t now = to_unix(deps_.clock.now());
  const std::int64_t last = rt->last_upstream_scan.load();
  if (now >= last && now - last < kUpstreamScanGap.count()) return;
  rt->last_upstream_scan = now;
  auto waiting = rt->store->count_requests({RequestState::kAuthorized});
  if (!waiting.has_value() || *waiting == 0) return;
  auto target = deps_.superior_target();
  if (!target.has_value()) return;
  std::vector<RequestId> due;
  Status s = rt->store->for_each_request([&](const RequestRecord& r) {
    if (r.state == RequestState::kAuthorized) due.push_back(r.id);
    return true;
  });
  if (!s.ok()) {
    log::warn("certificate server {}: cannot list the requests waiting upstream: {}", label_,
              s.message());
    return;
  }
  for (RequestId id : due) {
    if (!rt->forwarder->claim_exchange(id, target->retry_period)) continue;
    auto outcome = ra_forward_stored(*rt, id);
    if (!outcome.has_value()) {
      log::warn("certificate server {}: request {}: {}", label_, id, outcome.error().message());
    }
  }
}

}  // namespace scepter::ca
