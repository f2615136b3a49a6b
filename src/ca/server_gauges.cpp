// CertificateServer::gauges(): what /metrics shows of one server.
#include "ca/certificate_server.h"

#include <system_error>
#include <thread>

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

ServerGauges CertificateServer::gauges(std::chrono::steady_clock::duration counts_age,
                                       std::chrono::steady_clock::duration wait) const {
  ServerGauges out;
  out.state = state();
  const std::shared_ptr<Runtime> rt = runtime();
  if (!rt || out.state != ServerState::kEnabled) return out;
  if (rt->ca_cert) out.ca_not_after = rt->ca_cert->not_after();
  if (rt->crl) out.crl = rt->crl->gauges();

  const std::shared_ptr<GaugeCounts> counts = counts_;
  UniqueMutexLock lock(counts->mu);
  const bool fresh = counts->last && counts->last->runtime.lock() == rt &&
                     std::chrono::steady_clock::now() - counts->last->at < counts_age;
  if (!fresh) {
    if (!counts->reading) {
      // On a thread of its own: a database that hangs holds that thread only (until the
      // store's own timeout), not the scrape nor the metrics of the other servers.
      counts->reading = true;
      const bool ra = is_ra_mode(config());
      try {
        std::thread([counts, rt, ra] {
          GaugeCounts::Read read;
          read.runtime = rt;
          read.certificates = or_nothing(rt->store->certificate_count());
          read.pending = or_nothing(rt->store->count_requests({RequestState::kPending}));
          if (ra) {
            read.authorized = or_nothing(rt->store->count_requests({RequestState::kAuthorized}));
          }
          read.at = std::chrono::steady_clock::now();
          {
            MutexLock done(counts->mu);
            counts->last = std::move(read);
            counts->reading = false;
          }
          counts->done.notify_all();
        }).detach();
      } catch (const std::system_error&) {
        counts->reading = false;  // no thread now: the last counts, and another try later
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (counts->reading && std::chrono::steady_clock::now() < deadline) {
      lock.wait_until(counts->done, deadline);
    }
  }
  if (counts->last && counts->last->runtime.lock() == rt) {
    out.certificates = counts->last->certificates;
    out.pending = counts->last->pending;
    out.authorized = counts->last->authorized;
  }
  return out;
}

}  // namespace scepter::ca
