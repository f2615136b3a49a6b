// CertificateServer::gauges(): what /metrics shows of one server.
#include "ca/certificate_server.h"
#include "ca/server_runtime.h"

namespace scepter::ca {
namespace {

std::optional<std::uint64_t> or_nothing(Result<std::uint64_t> r) {
  if (!r.has_value()) return std::nullopt;
  return *r;
}

}  // namespace

metrics::Counter& issued_counter(const std::string& label) {
  return metrics::Registry::global()
      .counter("scepter_certificates_issued_total",
               "Certificates this process issued (committed to the database), by CA.", {"ca"})
      .with({label});
}

metrics::Counter& revoked_counter(const std::string& label) {
  return metrics::Registry::global()
      .counter("scepter_certificates_revoked_total", "Revocations this process recorded, by CA.",
               {"ca"})
      .with({label});
}

ServerGauges CertificateServer::gauges(std::chrono::steady_clock::duration counts_age) const {
  ServerGauges out;
  out.state = state();
  const std::shared_ptr<Runtime> rt = runtime();
  if (!rt || out.state != ServerState::kEnabled) return out;
  if (rt->ca_cert) out.ca_not_after = rt->ca_cert->not_after();
  if (rt->crl) out.crl = rt->crl->gauges();

  MutexLock lock(counts_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!counts_ || counts_->runtime.lock() != rt || now - counts_->read_at >= counts_age) {
    Counts c;
    c.runtime = rt;
    c.certificates = or_nothing(rt->store->certificate_count());
    c.pending = or_nothing(rt->store->count_requests({RequestState::kPending}));
    if (is_ra_mode(config())) {
      c.authorized = or_nothing(rt->store->count_requests({RequestState::kAuthorized}));
    }
    c.read_at = std::chrono::steady_clock::now();
    counts_ = std::move(c);
  }
  out.certificates = counts_->certificates;
  out.pending = counts_->pending;
  out.authorized = counts_->authorized;
  return out;
}

}  // namespace scepter::ca
