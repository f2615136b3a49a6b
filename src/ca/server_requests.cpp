// CertificateServer: the enrollment request database, granting and issuing, and the
// one-time enrollment password.

#include <algorithm>

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/server_runtime.h"
#include "common/log.h"
#include "pki/csr.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/issuer.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

std::string sha256_hex(std::string_view s) {
  return pki::hex_upper(pki::digest(pki::Hash::kSha256, s));
}

}  // namespace

Result<pki::Certificate> CertificateServer::issue_for(Runtime& rt, RequestRecord& request,
                                                      const pki::Csr* parsed) {
  const ServerConfig cfg = config();
  std::optional<pki::Csr> reparsed;
  if (parsed == nullptr) {
    ASSIGN_OR_RETURN(reparsed, pki::Csr::parse(request.csr_der));
    parsed = &*reparsed;
  }
  const pki::Csr& csr = *parsed;
  const TimePoint now = deps_.clock.now();
  if (now >= rt.ca_cert->not_after()) {
    return fail(
        unavailable(fmt::format("The CA certificate expired at {}; no certificate can "
                                "be issued.",
                                format_ios_time(rt.ca_cert->not_after()))));
  }
  TimePoint not_after = now + std::chrono::days(cfg.cert_lifetime_days);
  // Never past the CA certificate.
  if (not_after > rt.ca_cert->not_after()) not_after = rt.ca_cert->not_after();
  Serial serial;
  {
    std::lock_guard<std::mutex> lock(rt.alloc_mu);
    serial = ++rt.last_serial;
  }
  const pki::IssueSpec spec{.csr = csr,
                            .ca_cert = *rt.ca_cert,
                            .ca_key = *rt.ca_key,
                            .serial = serial,
                            .not_before = now,
                            .not_after = not_after,
                            .hash = cfg.hash,
                            .cdp_url = cfg.cdp_url};
  ASSIGN_OR_RETURN(pki::Certificate cert, pki::issue_certificate(spec));

  store::CertRecord rec;
  rec.serial = serial;
  rec.der = cert.der();
  rec.subject = request.subject;
  rec.not_before = now;
  rec.not_after = not_after;
  rec.request_id = request.id;
  request.state = RequestState::kGranted;
  request.serial = serial;
  store::WriteBatch batch;
  batch.put_certificate(rec);
  batch.put_request(request);
  batch.put_meta(kMetaLastSerial, std::to_string(serial));
  {
    // The counter, not this request's id: granting an older request must not move it back.
    std::lock_guard<std::mutex> lock(rt.alloc_mu);
    batch.put_meta(kMetaLastRequest, std::to_string(rt.last_request));
  }
  // Durable before anyone sees the certificate.
  RETURN_IF_ERROR(rt.store->write(batch));
  {
    std::lock_guard<std::mutex> lock(rt.alloc_mu);
    rt.last_issued = std::max(rt.last_issued, serial);
  }
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: issued certificate 0x{:X} for request {}",
             serial, request.id);
  Status files = write_cert_files(cfg, rec);
  if (!files.ok()) fail_critical(unavailable("cannot write certificate files: " + files.message()));
  return cert;
}

Status CertificateServer::write_cert_files(const ServerConfig& cfg, const store::CertRecord& rec) {
  if (cfg.level == files::DbLevel::kMinimal) return ok_status();
  files::FileSet files = file_set(cfg);
  const std::string base = fmt::format("{:X}", rec.serial);
  std::string cnm = fmt::format("serial=0x{:X}\nsubject={}\nexpires={}\n", rec.serial, rec.subject,
                                format_iso_time(rec.not_after));
  RETURN_IF_ERROR(files.write(files::FileType::kCnm, base + ".cnm", cnm));
  if (cfg.level == files::DbLevel::kComplete) {
    RETURN_IF_ERROR(files.write(files::FileType::kCrt, base + ".cer", rec.der));
  }
  return ok_status();
}

Result<SubmitOutcome> CertificateServer::submit(std::string_view csr_der, RequestSource source) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("The certificate server is not enabled."));
  ASSIGN_OR_RETURN(pki::Csr csr, pki::Csr::parse(csr_der));
  RETURN_IF_ERROR(csr.verify_signature());
  const pki::Key& pub = csr.public_key();
  if (pub.is_rsa() && pub.bits() < kMinRsaBits) {
    return fail(invalid_argument(fmt::format(
        "The request's RSA key has {} bits; at least {} are required.", pub.bits(), kMinRsaBits)));
  }
  if (pki::requests_ca_certificate(csr)) {
    return fail(permission_denied(
        "The request asks for a CA certificate (basicConstraints CA:TRUE); a root certificate "
        "server issues end-entity certificates only."));
  }
  const ServerConfig cfg = config();
  RequestRecord req;
  {
    std::lock_guard<std::mutex> lock(rt->alloc_mu);
    req.id = ++rt->last_request;
  }
  req.csr_der = csr.der();
  req.fingerprint = csr.md5_fingerprint();
  req.subject = pki::format_dn_ios(csr.subject());
  req.kind = is_ra_name(req.subject) ? store::RequestKind::kRa : store::RequestKind::kRouter;
  req.created = deps_.clock.now();
  req.flags = static_cast<int>(source);
  req.state = RequestState::kPending;
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: new request {} ({}), fingerprint {}", req.id,
             req.subject, req.fingerprint);

  bool grant_now = cfg.grant == GrantMode::kAuto;
  if (cfg.grant == GrantMode::kNone) req.state = RequestState::kDenied;
  if (!grant_now && cfg.grant != GrantMode::kNone) {
    auto challenge = csr.challenge_password();
    if (challenge.has_value() && !challenge->empty() && consume_password(*challenge)) {
      log::trace(log::Category::kPkiServer, "CRYPTO_CS: request {} carries the one-time password",
                 req.id);
      grant_now = true;
    }
  }
  SubmitOutcome out;
  std::lock_guard<std::mutex> lock(rt->request_mu);
  if (grant_now) {
    ASSIGN_OR_RETURN(pki::Certificate cert, issue_for(*rt, req));
    out.certificate = std::move(cert);
  } else {
    store::WriteBatch batch;
    batch.put_request(req);
    batch.put_meta(kMetaLastRequest, std::to_string(req.id));
    RETURN_IF_ERROR(rt->store->write(batch));
  }
  out.request = req;
  return out;
}

// The requests `grant` or `reject` act on: the one named (which must still be open), or
// every pending and authorized request, oldest first (serials then follow request order).
Result<std::vector<RequestRecord>> CertificateServer::open_requests(Runtime& rt,
                                                                    std::optional<RequestId> id,
                                                                    std::string_view verb) {
  auto open = [](const RequestRecord& r) {
    return r.state == RequestState::kPending || r.state == RequestState::kAuthorized;
  };
  std::vector<RequestRecord> out;
  if (id.has_value()) {
    ASSIGN_OR_RETURN(RequestRecord r, rt.store->request(*id));
    if (!open(r)) {
      return fail(invalid_argument(fmt::format("Request {} is {}; only pending requests can be {}.",
                                               r.id, store::request_state_name(r.state), verb)));
    }
    out.push_back(std::move(r));
    return out;
  }
  ASSIGN_OR_RETURN(auto all, rt.store->requests());
  for (auto& r : all) {
    if (open(r)) out.push_back(std::move(r));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<IssuedCertificate>> CertificateServer::grant(std::optional<RequestId> id) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("The certificate server is not enabled."));
  std::lock_guard<std::mutex> lock(rt->request_mu);
  ASSIGN_OR_RETURN(std::vector<RequestRecord> todo, open_requests(*rt, id, "granted"));
  std::vector<IssuedCertificate> out;
  for (auto& r : todo) {
    ASSIGN_OR_RETURN(pki::Certificate cert, issue_for(*rt, r));
    out.push_back({r.id, static_cast<RequestSource>(r.flags & 3), std::move(cert)});
  }
  return out;
}

Status CertificateServer::reject(std::optional<RequestId> id) {
  auto rt = runtime();
  if (!rt) return unavailable("The certificate server is not enabled.");
  std::lock_guard<std::mutex> lock(rt->request_mu);
  ASSIGN_OR_RETURN(std::vector<RequestRecord> todo, open_requests(*rt, id, "rejected"));
  store::WriteBatch batch;
  for (auto& r : todo) {
    r.state = RequestState::kDenied;
    batch.put_request(r);
  }
  if (batch.empty()) return ok_status();
  return rt->store->write(batch);
}

Status CertificateServer::remove(std::optional<RequestId> id) {
  auto rt = runtime();
  if (!rt) return unavailable("The certificate server is not enabled.");
  std::lock_guard<std::mutex> lock(rt->request_mu);
  store::WriteBatch batch;
  if (id.has_value()) {
    ASSIGN_OR_RETURN(RequestRecord r, rt->store->request(*id));
    batch.delete_request(r.id);
  } else {
    ASSIGN_OR_RETURN(auto all, rt->store->requests());
    for (const auto& r : all) batch.delete_request(r.id);
  }
  if (batch.empty()) return ok_status();
  return rt->store->write(batch);
}

Result<std::vector<RequestRecord>> CertificateServer::requests() const {
  std::shared_ptr<Runtime> rt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rt = runtime_;
  }
  if (!rt) return std::vector<RequestRecord>{};
  return rt->store->requests();
}

void CertificateServer::expire_requests(Runtime& rt) {
  const TimePoint now = deps_.clock.now();
  std::lock_guard<std::mutex> lock(rt.request_mu);
  if (now - rt.last_expiry_check < Seconds(30) && now >= rt.last_expiry_check) return;
  rt.last_expiry_check = now;
  const auto lifetime = std::chrono::hours(config().request_lifetime_hours);
  auto all = rt.store->requests();
  if (!all.has_value()) return;
  store::WriteBatch batch;
  for (const auto& r : *all) {
    if (r.created + lifetime <= now) {
      batch.delete_request(r.id);
      log::trace(log::Category::kPkiServer, "CRYPTO_CS: request {} expired", r.id);
    }
  }
  if (!batch.empty()) {
    Status s = rt.store->write(batch);
    if (!s.ok()) log::warn("cannot expire requests: {}", s.message());
  }
}

Result<OneTimePassword> CertificateServer::generate_password(int minutes) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("The certificate server is not enabled."));
  ASSIGN_OR_RETURN(std::string raw, pki::random_bytes(8));
  OneTimePassword otp;
  otp.password = pki::hex_upper(raw);
  otp.expires = deps_.clock.now() + std::chrono::minutes(minutes);
  std::lock_guard<std::mutex> lock(rt->otp_mu);
  store::WriteBatch batch;
  batch.put_meta(kMetaOtp, sha256_hex(otp.password) + " " + std::to_string(to_unix(otp.expires)));
  RETURN_IF_ERROR(rt->store->write(batch));
  rt->otp_digest = sha256_hex(otp.password);
  rt->otp_expires = otp.expires;
  return otp;
}

bool CertificateServer::consume_password(std::string_view candidate) {
  auto rt = runtime();
  if (!rt) return false;
  std::lock_guard<std::mutex> lock(rt->otp_mu);
  if (rt->otp_digest.empty() || deps_.clock.now() >= rt->otp_expires) return false;
  const std::string d = sha256_hex(candidate);
  if (!pki::constant_time_equal(d, rt->otp_digest)) return false;
  store::WriteBatch batch;
  batch.delete_meta(kMetaOtp);
  if (!rt->store->write(batch).ok()) return false;  // unused if we cannot record its use
  rt->otp_digest.clear();
  return true;
}

}  // namespace scepter::ca
