// CertificateServer: the enrollment request database, the request policy's inputs, and
// granting.

#include <algorithm>

#include <fmt/format.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "ca/certificate_server.h"
#include "ca/server_runtime.h"
#include "common/fs.h"
#include "common/log.h"
#include "pki/csr.h"
#include "pki/digest.h"
#include "pki/identity.h"
#include "pki/issuer.h"
#include "pki/name.h"
#include "pki/profile.h"

namespace scepter::ca {
namespace {

// A request the operator names by id: "Request N does not exist." rather than the store's
// own words.
Result<RequestRecord> named_request(store::Store& store, RequestId id) {
  auto r = store.request(id);
  if (!r.has_value() && r.error().code() == Code::kNotFound) {
    return fail(not_found(fmt::format("Request {} does not exist.", id)));
  }
  return r;
}

// The profile of a granted request: a CA request only ever reaches a grant through the
// operator (request_policy.h), and then gets a subordinate CA certificate with the
// configured path length, never more than the issuing CA's own allows (one less).
std::optional<pki::CaProfile> issue_as_ca(RequestClass request, const ServerConfig& cfg,
                                          std::optional<int> issuer_path_len) {
  if (request != RequestClass::kCa) return std::nullopt;
  std::optional<int> path_len = cfg.sub_ca_path_len;
  if (issuer_path_len)
    path_len = std::max(0, std::min(path_len.value_or(*issuer_path_len - 1), *issuer_path_len - 1));
  return pki::CaProfile{.path_len = path_len};
}

// The pathLenConstraint of a CA certificate, when it has one.
std::optional<int> path_len_of(const std::optional<pki::Certificate>& cert) {
  if (!cert) return std::nullopt;
  const long n = X509_get_pathlen(cert->x509());
  if (n < 0) return std::nullopt;
  return static_cast<int>(std::min<long>(n, 1000));
}

}  // namespace

bool is_open_state(RequestState s) {
  return s == RequestState::kPending || s == RequestState::kAuthorized ||
         s == RequestState::kInitial;
}

RequestClass request_class(const pki::Csr& csr) {
  if (pki::requests_ca_certificate(csr)) return RequestClass::kCa;
  if (is_ra_certificate_name(csr.subject())) return RequestClass::kRa;
  return RequestClass::kEndEntity;
}

// Who signed a request. Only a certificate of ours can vouch for anything, and ours
// carry the CA certificate's subject, byte for byte, as their issuer: a signer without
// those bytes (the usual throw-away self-signed one) is not parsed, which would decode
// its public key again (costly: docs/performance.md).
Signer CertificateServer::classify_signer(Runtime& rt, std::string_view der,
                                          std::optional<pki::Certificate>& cert) const {
  cert.reset();
  if (der.empty()) return Signer::kNone;
  // An RA issues nothing: no signer is one of its own. (Its grant policy treats every
  // signer as proving nothing; the issuing CA judges renewals.)
  if (rt.forwarder) return Signer::kForeign;
  if (!pki::der_contains_name(der, rt.ca_cert->subject())) return Signer::kSelfSigned;
  // Our own certificates that sign requests again and again (an RA forwards every request
  // it grants) are parsed once; the database still says, each time, whether they stand.
  std::optional<pki::Certificate> known = rt.signers.find(der);
  auto parsed =
      known ? Result<pki::Certificate>(std::move(*known)) : pki::Certificate::from_der(der);
  if (!parsed.has_value()) return Signer::kForeign;
  if (pki::same_name(parsed->subject(), parsed->issuer())) return Signer::kSelfSigned;
  auto serial = parsed->serial();
  if (!serial.has_value() || !pki::same_name(parsed->issuer(), rt.ca_cert->subject())) {
    return Signer::kForeign;
  }
  // The byte-identical certificate is in our database: its signature is ours.
  auto rec = rt.store->certificate(serial->sequence);
  if (!rec.has_value() || rec->der != der || serial->sequence == 1) return Signer::kForeign;
  if (!known) rt.signers.add(der, *parsed);  // only what the database vouches for
  cert = std::move(*parsed);
  if (rec->revoked_at.has_value()) return Signer::kRevoked;
  const TimePoint now = deps_.clock.now();
  if (now < cert->not_before() || now >= cert->not_after()) return Signer::kExpired;
  return is_ra_certificate_name(cert->subject()) ? Signer::kRa : Signer::kOurs;
}

Result<CertificateServer::Evaluation> CertificateServer::evaluate(
    Runtime& rt, const pki::Csr& csr, RequestPath path, std::string_view signer_der,
    const ServerConfig& cfg, bool allow_otp, const std::optional<std::string>& password,
    std::optional<bool> acme_validated) {
  Evaluation ev;
  PolicyInput in;
  in.path = path;
  in.acme = acme_validated.has_value();
  in.names_validated = acme_validated.value_or(false);
  in.request = request_class(csr);
  in.signer = classify_signer(rt, signer_der, ev.signer_cert);
  if (ev.signer_cert && (in.signer == Signer::kOurs || in.signer == Signer::kRa)) {
    in.signer_is_ca = ev.signer_cert->is_ca();
    in.same_identity = pki::same_identity(csr, *ev.signer_cert);
    // An RA re-signs the requests it forwards with its own key: only a PKCS#10 that proves
    // possession of its own key is the RA's own (checked only then: it is rare, and costs).
    if (in.same_identity && in.signer == Signer::kRa) {
      in.same_identity = csr.verify_signature().ok();
    }
  }
  in.issuer_path_len = path_len_of(rt.ca_cert);
  in.rsa = csr.public_key().is_rsa();
  in.key_bits = csr.public_key().bits();
  const auto& challenge = password ? password : csr.challenge_password();
  in.otp = allow_otp && challenge.has_value() && rt.otp->matches(*challenge);
  if (in.otp) ev.password = challenge;
  ev.decision = decide(in, cfg);
  const bool is_new = path == RequestPath::kManual || path == RequestPath::kPkcsReq ||
                      path == RequestPath::kRenewalReq || path == RequestPath::kAcme;
  if (ev.decision.verdict == Verdict::kPending && is_new) {
    // Counted only for a request that would wait: the limit concerns nobody else.
    ASSIGN_OR_RETURN(in.open_requests,
                     rt.store->count_requests({RequestState::kPending, RequestState::kAuthorized,
                                               RequestState::kInitial}));
    ev.decision = decide(in, cfg);
  }
  ev.request_class = in.request;
  ev.signer = in.signer;
  ev.same_identity = in.same_identity;
  if (log::debug_enabled(log::Category::kPkiServer)) {  // the subject is formatted only then
    log::debug(
        log::Category::kPkiServer,
        fmt::format("CRYPTO_CS: policy: {} of {} signed by {}{}: {}{}", request_path_name(path),
                    pki::format_dn_ios(csr.subject()), signer_name(in.signer),
                    in.same_identity ? " (same identity)" : "", verdict_name(ev.decision.verdict),
                    ev.decision.reason.empty() ? "" : " (" + ev.decision.reason + ")"));
  }
  return ev;
}

Result<pki::Certificate> CertificateServer::issue_granted(Runtime& rt, RequestRecord& request,
                                                          const pki::Csr& csr, const Evaluation& ev,
                                                          const ServerConfig& cfg,
                                                          const WhileCommitting& while_committing,
                                                          bool stored) {
  CA_ASSERT(ev.decision.verdict == Verdict::kGrant, "issuing without a grant");
  store::WriteBatch also;
  // A new request is not stored yet: its id was allocated for it alone.
  if (stored) also.expect_request_state(request.id, request.state);
  if (ev.decision.consumes_otp) {
    if (!ev.password.has_value() || !rt.otp->add_consumption(*ev.password, also)) {
      return fail(not_found("The one-time password was used or expired meanwhile."));
    }
    log::trace(log::Category::kPkiServer, "CRYPTO_CS: request {} carries the one-time password",
               request.id);
  }
  std::optional<Serial> predecessor;
  if (ev.decision.renewal && ev.signer_cert.has_value()) {
    if (auto s = ev.signer_cert->serial(); s.has_value()) predecessor = s->sequence;
  }
  // A request re-signed by one of our RAs carries the RA's signature, not its own.
  std::optional<pki::Key> csr_signer;
  if (ev.signer == Signer::kRa && ev.signer_cert && !csr.verify_signature().ok()) {
    auto key = ev.signer_cert->public_key();
    if (key.has_value()) csr_signer = std::move(*key);
  }
  // A rollover request while the shadow exists: issued under the shadow key, from the
  // moment it takes over (the CertRep is still signed by the current key). A subordinate
  // rolling over while this CA does not: from the end of its current certificate.
  const bool rollover = (request.flags & kFlagRollover) != 0;
  std::shared_ptr<const Runtime::Shadow> shadow = rollover ? rt.shadow() : nullptr;
  if (shadow && ev.signer_cert && ev.signer_cert->not_after() < shadow->cert.not_before()) {
    shadow = nullptr;  // a subordinate whose certificate ends before ours
  }
  std::optional<TimePoint> not_before;
  if (shadow) {
    not_before = shadow->cert.not_before();
  } else if (rollover && ev.request_class != RequestClass::kEndEntity && ev.signer_cert &&
             ev.signer_cert->not_after() > deps_.clock.now()) {
    not_before = ev.signer_cert->not_after();
  }
  Issuer& issuer = shadow ? *shadow->issuer : *rt.issuer;
  Seconds shorten{0};
  if (shadow && ev.request_class == RequestClass::kEndEntity) {
    ASSIGN_OR_RETURN(shorten, rollover_jitter(cfg, shadow->cert.not_before()));
    log::trace(log::Category::kPkiServer,
               "CRYPTO_CS: request {} is a rollover request: issued under the rollover CA "
               "certificate, {} s shorter",
               request.id, shorten.count());
  }
  // ACME orders get the ACME lifetime, within the server's.
  ServerConfig acme_cfg;
  const bool acme = static_cast<RequestSource>(request.flags & 3) == RequestSource::kAcme;
  if (acme) {
    acme_cfg = cfg;
    acme_cfg.cert_lifetime_days = std::min(cfg.acme.lifetime_days, cfg.cert_lifetime_days);
  }
  auto issued = issuer.issue({.request = request,
                              .csr = csr,
                              .csr_signer = std::move(csr_signer),
                              .config = acme ? acme_cfg : cfg,
                              .predecessor = predecessor,
                              .ca = issue_as_ca(ev.request_class, cfg, path_len_of(rt.ca_cert)),
                              .also = std::move(also),
                              .not_before = not_before,
                              .shorten = shorten,
                              .while_committing = while_committing});
  if (!issued.has_value()) return fail(issued.error());
  issued_count_.add();
  if (deps_.audit != nullptr) {
    deps_.audit->record({"issue", "scepterd", label_,
                         fmt::format("certificate 0x{} for request {} ({}){}",
                                     issued->certificate.serial_hex(), request.id, request.subject,
                                     ev.decision.reason.empty() ? "" : ": " + ev.decision.reason),
                         "ok"});
  }
  if (ev.decision.consumes_otp) rt.otp->consumed();
  notify(EventKind::kRequest, std::to_string(request.id), "granted");
  notify(EventKind::kCertificate,
         pki::SerialNumber{issued->record.serial, issued->record.serial_entropy}.hex(), "issued");
  Status files = write_cert_files(cfg, issued->record);
  if (!files.ok()) fail_critical(unavailable("cannot write certificate files: " + files.message()));
  return std::move(issued->certificate);
}

std::vector<std::string> CertificateServer::dropped_by_profile(const RequestRecord& r) const {
  if (r.csr_der.empty() || is_ra_mode(config())) return {};  // an RA's issuer decides
  // The profile only drops what a request asks for: most ask for no extension, and
  // listing thousands of them must not decode each key (docs/performance.md).
  if (!pki::may_request_extensions(r.csr_der)) return {};
  auto csr = pki::Csr::parse(r.csr_der);
  if (!csr.has_value()) return {};
  auto rt = runtime();
  const std::optional<int> issuer_path_len = rt ? path_len_of(rt->ca_cert) : std::nullopt;
  const ServerConfig cfg = config();
  return pki::evaluate_profile(
             *csr, pki::Profile{.ca = issue_as_ca(request_class(*csr), cfg, issuer_path_len),
                                .extra_ekus = cfg.ekus})
      .dropped;
}

Status CertificateServer::write_cert_files(const ServerConfig& cfg, const store::CertRecord& rec) {
  // An RA's certificates are the issuing CA's to keep.
  if (cfg.level == files::DbLevel::kMinimal || is_ra_mode(cfg)) return ok_status();
  files::FileSet files = file_set(cfg);
  const std::string base = fmt::format("{:X}", rec.serial);
  // Named by sequence number; the whole serial (with its entropy, if any) is inside.
  std::string cnm = fmt::format("serial=0x{}\nsubject={}\nexpires={}\n",
                                pki::SerialNumber{rec.serial, rec.serial_entropy}.hex(),
                                rec.subject, format_iso_time(rec.not_after));
  RETURN_IF_ERROR(files.write(files::FileType::kCnm, base + ".cnm", cnm));
  if (cfg.level == files::DbLevel::kComplete) {
    RETURN_IF_ERROR(files.write(files::FileType::kCrt, base + ".cer", rec.der));
  }
  return ok_status();
}

// The files of a certificate already committed: written again when missing (a process
// killed between the commit and the files; the certificate's resend, or the next start,
// puts them back).
Status CertificateServer::ensure_cert_files(const ServerConfig& cfg, const store::CertRecord& rec) {
  if (cfg.level == files::DbLevel::kMinimal || is_ra_mode(cfg)) return ok_status();
  files::FileSet files = file_set(cfg);
  const std::string base = fmt::format("{:X}", rec.serial);
  auto present = [&](files::FileType type, const std::string& name) {
    // On a file server: sent through the publish queue, whose spool keeps it until then.
    if (files.is_remote(type)) return true;
    auto path = files.path_for(type, name);
    return path.has_value() && fs::exists(*path);
  };
  const bool cnm = present(files::FileType::kCnm, base + ".cnm");
  const bool cer =
      cfg.level != files::DbLevel::kComplete || present(files::FileType::kCrt, base + ".cer");
  if (cnm && cer) return ok_status();
  log::info("certificate server {}: writing the missing files of certificate 0x{}", label_, base);
  return write_cert_files(cfg, rec);
}

Status CertificateServer::repair_recent_cert_files(Runtime& rt, const ServerConfig& cfg,
                                                   Serial last) {
  if (cfg.level == files::DbLevel::kMinimal) return ok_status();
  // Only certificates committed while the process died can lack their files, and at most
  // as many were in flight as requests run at once: the newest few are enough.
  constexpr Serial kWindow = 256;
  for (Serial s = last > kWindow ? last - kWindow + 1 : 2; s <= last; ++s) {
    auto rec = rt.store->certificate(s);
    if (!rec.has_value()) {
      if (rec.error().code() == Code::kNotFound) continue;
      return rec.error();
    }
    RETURN_IF_ERROR(ensure_cert_files(cfg, *rec));
  }
  return ok_status();
}

bool CertificateServer::is_subordinate_rollover(const Evaluation& ev, const pki::Csr& csr) {
  if (ev.request_class == RequestClass::kEndEntity || !ev.same_identity || !ev.signer_cert) {
    return false;
  }
  if (ev.signer != Signer::kOurs && ev.signer != Signer::kRa) return false;
  // The same kind of certificate, for a new key.
  if (ev.signer_cert->is_ca() != (ev.request_class == RequestClass::kCa)) return false;
  auto signer_key = ev.signer_cert->public_key();
  return signer_key.has_value() && !signer_key->equals_public(csr.public_key());
}

Result<Seconds> CertificateServer::rollover_jitter(const ServerConfig& cfg,
                                                   TimePoint shadow_start) const {
  // Up to a tenth of the lifetime, and no more than the overlap left: the clients that
  // roll over together then renew spread over that span next time.
  const auto life = std::chrono::duration_cast<Seconds>(std::chrono::days(cfg.cert_lifetime_days));
  Seconds span = life / 10;
  const Seconds overlap = std::chrono::duration_cast<Seconds>(shadow_start - deps_.clock.now());
  if (overlap < span) span = overlap;
  if (span <= Seconds(0)) return Seconds(0);
  ASSIGN_OR_RETURN(std::string bytes, pki::random_bytes(8));
  std::uint64_t r = 0;
  for (unsigned char c : bytes) r = (r << 8) | c;
  return Seconds(static_cast<std::int64_t>(r % static_cast<std::uint64_t>(span.count() + 1)));
}

void CertificateServer::audit_refusal(const RequestRecord& req, RequestPath path,
                                      const std::string& reason) const {
  if (deps_.audit == nullptr) return;
  // Anyone who reaches the SCEP or EST URL can be refused at will: a bounded record.
  deps_.audit->record_untrusted({"refused", "scepterd", label_,
                                 fmt::format("{} request from {} (fingerprint {})",
                                             request_path_name(path), req.subject, req.fingerprint),
                                 "failed: " + reason});
}

Result<CertificateServer::Decided> CertificateServer::decide_and_record(
    Runtime& rt, RequestRecord& req, const pki::Csr& csr, RequestPath path, const ServerConfig& cfg,
    const WhileCommitting& while_committing, const std::optional<std::string>& password,
    std::optional<bool> acme_validated) {
  ASSIGN_OR_RETURN(Evaluation ev, evaluate(rt, csr, path, req.signer_cert_der, cfg, true, password,
                                           acme_validated));
  req.kind = ev.request_class == RequestClass::kCa   ? store::RequestKind::kSubCa
             : ev.request_class == RequestClass::kRa ? store::RequestKind::kRa
                                                     : store::RequestKind::kRouter;
  // During a rollover, a client renewing with its valid certificate of ours asks for its
  // certificate under the next CA (the guide's client rollover certificate) — if the one
  // it holds lasts until the switch: one that ends sooner is renewed under the current
  // CA, or the client would be without a valid certificate until the switch.
  if (ev.signer == Signer::kOurs && ev.request_class == RequestClass::kEndEntity && !rt.forwarder &&
      ev.signer_cert) {
    if (auto shadow = rt.shadow();
        shadow && ev.signer_cert->not_after() >= shadow->cert.not_before()) {
      req.flags |= kFlagRollover;
    }
  }
  // A subordinate CA or an RA of ours rolling over: its new key's certificate, for after
  // the one it signs with. Under our rollover certificate when it lasts until ours takes
  // over; else from the end of its current one, which must end before ours.
  if (is_subordinate_rollover(ev, csr) && !rt.forwarder &&
      ev.decision.verdict != Verdict::kReject) {
    auto shadow = rt.shadow();
    if (shadow && ev.signer_cert->not_after() >= shadow->cert.not_before()) {
      req.flags |= kFlagRollover;
    } else if (ev.signer_cert->not_after() >= rt.ca_cert->not_after()) {
      ev.decision = Decision{};
      ev.decision.verdict = Verdict::kReject;
      ev.decision.fail_info = ScepFailInfo::kBadRequest;
      ev.decision.reason = fmt::format(
          "The certificate to roll over ends with this CA's own ({}): this CA must roll over "
          "first (crypto pki server {} rollover).",
          format_ios_time(rt.ca_cert->not_after()), label_);
    } else {
      req.flags |= kFlagRollover;
    }
  }
  if (ev.decision.verdict != Verdict::kReject) {
    // Ids go to requests that are kept: a refusal uses none up.
    ASSIGN_OR_RETURN(req.id, rt.store->next_request_id());
    log::trace(log::Category::kPkiServer, "CRYPTO_CS: new request {} ({}), fingerprint {}", req.id,
               req.subject, req.fingerprint);
  }
  if (ev.decision.verdict == Verdict::kGrant && rt.forwarder) {
    // An RA: granted means authorized here and sent to the issuing CA, whose answer is
    // the client's. What waits for the issuing CA (which may be down) counts against
    // `limit pending-requests` like what waits for the operator.
    ASSIGN_OR_RETURN(const std::uint64_t open,
                     rt.store->count_requests({RequestState::kPending, RequestState::kAuthorized,
                                               RequestState::kInitial}));
    if (open >= static_cast<std::uint64_t>(cfg.max_pending_requests)) {
      Decision refused;
      refused.verdict = Verdict::kReject;
      refused.fail_info = ScepFailInfo::kBadRequest;
      refused.reason = fmt::format(
          "Too many requests ({}) are waiting for the issuing CA; try again later.", open);
      log::info("certificate server {}: request from {} refused: {}", label_, req.subject,
                refused.reason);
      audit_refusal(req, path, refused.reason);
      return Decided{refused, std::nullopt};
    }
    Status s = ra_authorize(rt, req, ev);
    if (!s.ok() && ev.decision.consumes_otp && s.code() == Code::kNotFound) {
      // Another request used the password first: decide again without it.
      ASSIGN_OR_RETURN(ev, evaluate(rt, csr, path, req.signer_cert_der, cfg, false));
      s = ev.decision.verdict == Verdict::kGrant ? ra_authorize(rt, req, ev) : ok_status();
    }
    RETURN_IF_ERROR(s);
    if (ev.decision.verdict == Verdict::kGrant) {
      ASSIGN_OR_RETURN(ScepOutcome o, ra_forward(rt, req, csr));
      Decision d = ev.decision;
      if (o.status == ScepOutcome::Status::kPending) d.verdict = Verdict::kPending;
      if (o.status == ScepOutcome::Status::kFailure) {
        d.verdict = Verdict::kReject;
        d.fail_info = o.fail_info;
        d.reason = o.fail_text;
      }
      return Decided{d, std::move(o.certificate)};
    }
  }
  if (ev.decision.verdict == Verdict::kGrant) {
    auto cert = issue_granted(rt, req, csr, ev, cfg, while_committing);
    if (cert.has_value()) return Decided{ev.decision, std::move(*cert)};
    if (!(ev.decision.consumes_otp && cert.error().code() == Code::kNotFound)) {
      return fail(cert.error());
    }
    // Another request used the password first: decide again without it.
    ASSIGN_OR_RETURN(ev, evaluate(rt, csr, path, req.signer_cert_der, cfg, false));
    if (ev.decision.verdict == Verdict::kGrant) {
      ASSIGN_OR_RETURN(pki::Certificate c, issue_granted(rt, req, csr, ev, cfg, while_committing));
      return Decided{ev.decision, std::move(c)};
    }
  }
  if (ev.decision.verdict == Verdict::kPending) {
    req.state = ev.decision.authorized ? RequestState::kAuthorized : RequestState::kPending;
    store::WriteBatch batch;
    batch.put_request(req);
    RETURN_IF_ERROR(rt.store->write(batch));
    notify(EventKind::kRequest, std::to_string(req.id), store::request_state_name(req.state));
  } else {
    // Refused requests are not stored: the same rules refuse a resend again.
    log::info("certificate server {}: request from {} refused: {}", label_, req.subject,
              ev.decision.reason);
    audit_refusal(req, path, ev.decision.reason);
  }
  return Decided{ev.decision, std::nullopt};
}

Result<SubmitOutcome> CertificateServer::submit(std::string_view csr_der, RequestSource source,
                                                bool rollover) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("The certificate server is not enabled."));
  if (rollover && (!rt->issuer || !rt->shadow())) {
    return fail(permission_denied(
        fmt::format("Certificate server {} has no rollover CA certificate (crypto pki server {} "
                    "rollover makes one).",
                    label_, label_)));
  }
  ASSIGN_OR_RETURN(pki::Csr csr, pki::Csr::parse(csr_der));
  RETURN_IF_ERROR(csr.verify_signature());
  const ServerConfig cfg = config();
  RequestRecord req;
  req.csr_der = csr.der();
  req.fingerprint = csr.md5_fingerprint();
  req.subject = pki::format_dn_ios(csr.subject());
  req.created = deps_.clock.now();
  req.flags = static_cast<int>(source) | (rollover ? kFlagRollover : 0);
  req.state = RequestState::kPending;
  ASSIGN_OR_RETURN(Decided d, decide_and_record(*rt, req, csr, RequestPath::kManual, cfg));
  if (d.decision.verdict == Verdict::kReject) {
    return fail(permission_denied(d.decision.reason));
  }
  SubmitOutcome out;
  out.request = req;
  out.certificate = std::move(d.certificate);
  return out;
}

// The requests `grant` or `reject` act on: the one named (which must still be open), or
// every pending and authorized request, oldest first (serials then follow request order).
Result<std::vector<RequestRecord>> CertificateServer::open_requests(Runtime& rt,
                                                                    std::optional<RequestId> id,
                                                                    std::string_view verb) {
  std::vector<RequestRecord> out;
  if (id.has_value()) {
    ASSIGN_OR_RETURN(RequestRecord r, named_request(*rt.store, *id));
    if (!is_open_state(r.state)) {
      return fail(invalid_argument(fmt::format("Request {} is {}; only pending requests can be {}.",
                                               r.id, store::request_state_name(r.state), verb)));
    }
    out.push_back(std::move(r));
    return out;
  }
  RETURN_IF_ERROR(rt.store->for_each_request([&](const RequestRecord& r) {
    if (is_open_state(r.state)) out.push_back(r);
    return true;
  }));
  return out;
}

namespace {

Status decided_meanwhile(const std::string& label, RequestId id) {
  return aborted(fmt::format(
      "Request {} was decided meanwhile (on another node sharing the database); see \"show "
      "crypto pki server {} requests\".",
      id, label));
}

}  // namespace

Result<std::vector<IssuedCertificate>> CertificateServer::grant(std::optional<RequestId> id) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("The certificate server is not enabled."));
  if (rt->forwarder) return ra_grant(*rt, id);
  const ServerConfig cfg = config();
  MutexLock lock(rt->request_mu);
  ASSIGN_OR_RETURN(std::vector<RequestRecord> todo, open_requests(*rt, id, "granted"));
  std::vector<IssuedCertificate> out;
  for (auto& r : todo) {
    auto csr = pki::Csr::parse(r.csr_der);
    if (!csr.has_value()) {
      if (id.has_value()) return fail(csr.error());
      continue;
    }
    ASSIGN_OR_RETURN(Evaluation ev,
                     evaluate(*rt, *csr, RequestPath::kShellGrant, r.signer_cert_der, cfg, false));
    if (ev.decision.verdict != Verdict::kGrant) {
      if (id.has_value()) return fail(permission_denied(ev.decision.reason));
      log::warn("certificate server {}: request {} not granted: {}", label_, r.id,
                ev.decision.reason);
      continue;
    }
    auto cert = issue_granted(*rt, r, *csr, ev, cfg, {}, true);
    if (!cert.has_value() && cert.error().code() == Code::kAborted) {
      if (id.has_value()) return fail(decided_meanwhile(label_, *id));
      continue;  // granting all: another node took this one
    }
    if (!cert.has_value()) return fail(cert.error());
    out.push_back({r.id, static_cast<RequestSource>(r.flags & 3), std::move(*cert)});
  }
  return out;
}

Status CertificateServer::reject(std::optional<RequestId> id) {
  auto rt = runtime();
  if (!rt) return unavailable("The certificate server is not enabled.");
  MutexLock lock(rt->request_mu);
  // Every request as it was read, or none: a request another node decided meanwhile
  // makes the batch fail, and the open ones are read again.
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(std::vector<RequestRecord> todo, open_requests(*rt, id, "rejected"));
    store::WriteBatch batch;
    for (auto& r : todo) {
      batch.expect_request_state(r.id, r.state);
      r.state = RequestState::kDenied;
      r.reason = "rejected by the operator";
      batch.put_request(r);
    }
    if (batch.empty()) return ok_status();
    Status s = rt->store->write(batch);
    if (s.ok()) {
      for (const auto& r : todo) notify(EventKind::kRequest, std::to_string(r.id), "rejected");
    }
    if (s.code() != Code::kAborted) return s;
    if (id.has_value()) return decided_meanwhile(label_, *id);
    if (attempt == 3) return s;
  }
}

Status CertificateServer::remove(std::optional<RequestId> id) {
  auto rt = runtime();
  if (!rt) return unavailable("The certificate server is not enabled.");
  MutexLock lock(rt->request_mu);
  store::WriteBatch batch;
  if (id.has_value()) {
    ASSIGN_OR_RETURN(RequestRecord r, named_request(*rt->store, *id));
    batch.delete_request(r.id);
  } else {
    RETURN_IF_ERROR(rt->store->for_each_request([&](const RequestRecord& r) {
      batch.delete_request(r.id);
      return true;
    }));
  }
  if (batch.empty()) return ok_status();
  RETURN_IF_ERROR(rt->store->write(batch));
  notify(EventKind::kRequest, id.has_value() ? std::to_string(*id) : "all", "removed");
  return ok_status();
}

Result<std::vector<RequestRecord>> CertificateServer::requests() const {
  std::shared_ptr<Runtime> rt;
  {
    MutexLock lock(mu_);
    rt = runtime_;
  }
  if (!rt) return std::vector<RequestRecord>{};
  return rt->store->requests_page(0, kMaxListedRequests);
}

void CertificateServer::expire_requests(Runtime& rt) {
  const TimePoint now = deps_.clock.now();
  MutexLock lock(rt.request_mu);
  if (now - rt.last_expiry_check < Seconds(30) && now >= rt.last_expiry_check) return;
  rt.last_expiry_check = now;
  const auto lifetime = std::chrono::hours(config().request_lifetime_hours);
  auto n = rt.store->delete_requests_created_before(now - lifetime);
  if (!n.has_value()) {
    log::warn("cannot expire requests: {}", n.error().message());
  } else if (*n > 0) {
    log::trace(log::Category::kPkiServer, "CRYPTO_CS: {} request(s) expired", *n);
  }
}

Result<OneTimePassword> CertificateServer::generate_password(int minutes) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("The certificate server is not enabled."));
  return rt->otp->generate(minutes);
}

bool CertificateServer::consume_password(std::string_view candidate) {
  auto rt = runtime();
  return rt && rt->otp->consume(candidate);
}

}  // namespace scepter::ca
