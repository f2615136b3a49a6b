#include "ca/issuer.h"

#include <fmt/format.h>

#include "common/log.h"
#include "pki/issuer.h"
#include "pki/profile.h"

namespace scepter::ca {

Issuer::Issuer(store::Store& store, pki::Certificate ca_cert, pki::Key ca_key, const Clock& clock,
               std::function<std::string()> ocsp_url)
    : store_(store),
      ca_cert_(std::move(ca_cert)),
      ca_key_(std::move(ca_key)),
      clock_(clock),
      ocsp_url_(std::move(ocsp_url)) {}

void Issuer::note_issued(store::Serial serial) {
  store::Serial cur = last_issued_.load();
  while (serial > cur && !last_issued_.compare_exchange_weak(cur, serial)) {
  }
}

Result<Issuer::Issued> Issuer::issue(Order order) {
  const ServerConfig& cfg = order.config;
  const TimePoint now = clock_.now();
  if (now >= ca_cert_.not_after()) {
    return fail(
        unavailable(fmt::format("The CA certificate expired at {}; no certificate can be issued.",
                                format_ios_time(ca_cert_.not_after()))));
  }
  const TimePoint not_before = order.not_before.value_or(now);
  TimePoint not_after = not_before + std::chrono::days(cfg.cert_lifetime_days) - order.shorten;
  if (not_after > ca_cert_.not_after()) not_after = ca_cert_.not_after();  // never past the CA
  if (not_after <= not_before) return fail(invalid_argument("no validity left to certify"));
  ASSIGN_OR_RETURN(store::Serial serial, store_.allocate_serial());
  // A sequence number alone is predictable; with MD5 or SHA-1 that would let a requester
  // prepare a colliding certificate (the 2008 rogue-CA attack).
  pki::SerialNumber number{serial};
  if (pki::collision_prone(cfg.hash)) {
    ASSIGN_OR_RETURN(number, pki::SerialNumber::with_entropy(serial));
  }
  const pki::IssueSpec spec{.csr = order.csr,
                            .csr_signer = order.csr_signer ? &*order.csr_signer : nullptr,
                            .ca_cert = ca_cert_,
                            .ca_key = ca_key_,
                            .serial = number,
                            .not_before = not_before,
                            .not_after = not_after,
                            .hash = cfg.hash,
                            .cdp_url = cfg.cdp_url,
                            .ocsp_url = !cfg.ocsp               ? std::string()
                                        : !cfg.ocsp_url.empty() ? cfg.ocsp_url
                                        : ocsp_url_             ? ocsp_url_()
                                                                : std::string(),
                            .ca = order.ca,
                            .extra_ekus = cfg.ekus};
  if (log::debug_enabled(log::Category::kPkiServer)) {
    // Only while someone watches: the profile is applied again inside issue_certificate().
    for (const std::string& item :
         pki::evaluate_profile(order.csr, pki::issue_profile(spec)).dropped) {
      log::trace(log::Category::kPkiServer, "CRYPTO_CS: request {}: not granted: {}",
                 order.request.id, item);
    }
  }
  ASSIGN_OR_RETURN(pki::Certificate cert, pki::issue_certificate(spec));

  store::CertRecord rec;
  rec.serial = serial;
  rec.der = cert.der();
  rec.subject = order.request.subject;
  rec.not_before = not_before;
  rec.not_after = not_after;
  rec.request_id = order.request.id;
  rec.predecessor = order.predecessor;
  rec.serial_entropy = number.entropy;
  store::RequestRecord granted = order.request;
  granted.state = store::RequestState::kGranted;
  granted.serial = serial;
  store::WriteBatch& batch = order.also;
  batch.put_certificate(rec);
  batch.put_request(granted);
  // Durable before anyone sees the certificate.
  if (order.while_committing) {
    RETURN_IF_ERROR(store_.write_overlapped(batch, [&] { order.while_committing(cert); }));
  } else {
    RETURN_IF_ERROR(store_.write(batch));
  }
  order.request = std::move(granted);
  note_issued(serial);
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: issued certificate 0x{} for request {}{}",
             number.hex(), order.request.id,
             order.predecessor ? fmt::format(" (renews 0x{:X})", *order.predecessor) : "");
  return Issued{std::move(rec), std::move(cert)};
}

}  // namespace scepter::ca
