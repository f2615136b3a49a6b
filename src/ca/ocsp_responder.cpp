#include "ca/ocsp_responder.h"

#include <utility>

#include "common/log.h"
#include "pki/crl.h"
#include "pki/serial_number.h"

namespace scepter::ca {
namespace {

namespace ocsp = pki::ocsp;

std::shared_ptr<const std::string> error_der(ocsp::ResponseStatus status) {
  // Four fixed answers, made once.
  static const auto malformed = std::make_shared<const std::string>(
      ocsp::error_response(ocsp::ResponseStatus::kMalformedRequest));
  static const auto internal = std::make_shared<const std::string>(
      ocsp::error_response(ocsp::ResponseStatus::kInternalError));
  static const auto try_later =
      std::make_shared<const std::string>(ocsp::error_response(ocsp::ResponseStatus::kTryLater));
  static const auto unauthorized = std::make_shared<const std::string>(
      ocsp::error_response(ocsp::ResponseStatus::kUnauthorized));
  switch (status) {
    case ocsp::ResponseStatus::kMalformedRequest:
      return malformed;
    case ocsp::ResponseStatus::kTryLater:
      return try_later;
    case ocsp::ResponseStatus::kUnauthorized:
      return unauthorized;
    default:
      return internal;
  }
}

}  // namespace

OcspSettings ocsp_settings(const ServerConfig& cfg) {
  return OcspSettings{.enabled = cfg.ocsp,
                      .validity = std::chrono::hours(cfg.ocsp_validity_hours),
                      .nonce = cfg.ocsp_nonce};
}

OcspAnswer ocsp_error(ocsp::ResponseStatus status) { return OcspAnswer{.der = error_der(status)}; }

OcspResponder::OcspResponder(const store::Store& store, const Clock& clock,
                             const pki::Certificate& issuer, ocsp::ResponseSigner signer,
                             std::function<std::uint64_t()> revision,
                             std::optional<pki::Certificate> certificate)
    : store_(store),
      clock_(clock),
      match_(issuer),
      signer_(std::move(signer)),
      revision_(std::move(revision)),
      certificate_(std::move(certificate)) {}

void OcspResponder::configure(const OcspSettings& settings) {
  nonce_.store(settings.nonce, std::memory_order_relaxed);
  validity_seconds_.store(settings.validity.count(), std::memory_order_relaxed);
  enabled_.store(settings.enabled, std::memory_order_relaxed);
}

bool OcspResponder::serves(const ocsp::Request& request) const {
  return match_.matches(request.ids.front());
}

bool OcspResponder::caches_response(const ocsp::Request& request) const {
  return request.ids.size() == 1 &&
         (request.nonce_extension.empty() || !nonce_.load(std::memory_order_relaxed));
}

OcspAnswer OcspResponder::from_entry(const Entry& e) const {
  const std::chrono::seconds validity(validity_seconds_.load(std::memory_order_relaxed));
  return OcspAnswer{.der = e.der,
                    .this_update = e.this_update,
                    .next_update = e.this_update + validity,
                    .fresh_until = e.this_update + validity / 2};
}

std::optional<OcspAnswer> OcspResponder::cached(const ocsp::Request& request) const {
  if (!caches_response(request)) return std::nullopt;
  const std::uint64_t revision = revision_();
  const TimePoint now = clock_.now();
  const std::chrono::seconds half(validity_seconds_.load(std::memory_order_relaxed) / 2);
  MutexLock lock(mu_);
  auto it = cache_.find(std::string(request.ids.front().whole));
  if (it == cache_.end() || it->second.revision != revision || !it->second.der ||
      now >= it->second.this_update + half || now < it->second.this_update) {
    return std::nullopt;
  }
  return from_entry(it->second);
}

Result<OcspResponder::Status> OcspResponder::read_status(const ocsp::CertId& id) const {
  Status out;
  auto serial = pki::SerialNumber::from_integer_content(id.serial);
  if (!serial.has_value() || serial->sequence == 0 || serial->sequence > store::kMaxSerial) {
    return out;  // no serial of ours: unknown
  }
  auto rec = store_.certificate(serial->sequence);
  if (!rec.has_value()) {
    if (rec.error().code() == Code::kNotFound) return out;
    return fail(rec.error());
  }
  if (rec->serial_entropy != serial->entropy) return out;  // another serial of that number
  if (rec->revoked_at.has_value()) {
    out.status = ocsp::CertStatus::kRevoked;
    out.revoked_at = *rec->revoked_at;
    // As in the CRL entry: unspecified (0) is left out (RFC 5280 5.3.1).
    if (rec->revocation_reason && pki::is_crl_entry_reason(*rec->revocation_reason) &&
        *rec->revocation_reason != 0) {
      out.reason = rec->revocation_reason;
    }
  } else {
    out.status = ocsp::CertStatus::kGood;
  }
  return out;
}

Result<std::string> OcspResponder::sign(const ocsp::CertId& id, const Status& status, TimePoint now,
                                        std::string_view nonce) const {
  const std::chrono::seconds validity(validity_seconds_.load(std::memory_order_relaxed));
  const ocsp::SingleStatus single{.cert_id = id.whole,
                                  .status = status.status,
                                  .revoked_at = status.revoked_at,
                                  .reason = status.reason,
                                  .this_update = now,
                                  .next_update = now + validity};
  return signer_.sign({&single, 1}, now, nonce);
}

OcspAnswer OcspResponder::answer(const ocsp::Request& request) {
  for (const ocsp::CertId& id : request.ids) {
    if (!match_.matches(id)) return ocsp_error(ocsp::ResponseStatus::kUnauthorized);
  }
  if (request.ids.size() > 1) {
    // Rare (RFC 5019 clients ask one at a time): each status read, one response signed,
    // nothing cached.
    const bool use_nonce = nonce_.load(std::memory_order_relaxed);
    const std::string_view nonce = use_nonce ? request.nonce_extension : std::string_view();
    const TimePoint now = clock_.now();
    std::vector<Status> statuses;
    std::vector<ocsp::SingleStatus> singles;
    const std::chrono::seconds validity(validity_seconds_.load(std::memory_order_relaxed));
    for (const ocsp::CertId& id : request.ids) {
      auto st = read_status(id);
      if (!st.has_value()) return ocsp_error(ocsp::ResponseStatus::kTryLater);
      statuses.push_back(*st);
    }
    for (std::size_t i = 0; i < request.ids.size(); ++i) {
      singles.push_back({.cert_id = request.ids[i].whole,
                         .status = statuses[i].status,
                         .revoked_at = statuses[i].revoked_at,
                         .reason = statuses[i].reason,
                         .this_update = now,
                         .next_update = now + validity});
    }
    auto der = signer_.sign(singles, now, nonce);
    if (!der.has_value()) {
      log::error("OCSP: cannot sign a response: {}", der.error().message());
      return ocsp_error(ocsp::ResponseStatus::kInternalError);
    }
    return OcspAnswer{.der = std::make_shared<const std::string>(std::move(*der))};
  }

  return *answer_one(request, /*may_read=*/true);
}

std::optional<OcspAnswer> OcspResponder::answer_from_memory(const ocsp::Request& request) {
  if (request.ids.size() != 1 || !signer_.signs_in_process()) return std::nullopt;
  return answer_one(request, /*may_read=*/false);
}

std::optional<OcspAnswer> OcspResponder::answer_one(const ocsp::Request& request, bool may_read) {
  const ocsp::CertId& id = request.ids.front();
  if (!match_.matches(id)) return ocsp_error(ocsp::ResponseStatus::kUnauthorized);
  const bool use_nonce = nonce_.load(std::memory_order_relaxed);
  const std::string_view nonce = use_nonce ? request.nonce_extension : std::string_view();
  const TimePoint now = clock_.now();
  // Read before the status: a revocation landing meanwhile moves it, and the entry
  // stored below is then already stale.
  const std::uint64_t revision = revision_();
  const std::string key(id.whole);
  std::optional<Status> status;
  {
    MutexLock lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.revision == revision) status = it->second.status;
  }
  if (!status && !may_read) return std::nullopt;
  if (!status) {
    auto st = read_status(id);
    if (!st.has_value()) {
      log::warn("OCSP: cannot read the status: {}", st.error().message());
      return ocsp_error(ocsp::ResponseStatus::kTryLater);
    }
    status = *st;
  }
  const bool cacheable = caches_response(request);
  auto der = sign(id, *status, now, cacheable ? std::string_view() : nonce);
  if (!der.has_value()) {
    log::error("OCSP: cannot sign a response: {}", der.error().message());
    return ocsp_error(ocsp::ResponseStatus::kInternalError);
  }
  auto shared = std::make_shared<const std::string>(std::move(*der));
  Entry entry{.status = *status, .revision = revision, .this_update = now, .der = nullptr};
  if (cacheable) entry.der = shared;
  {
    MutexLock lock(mu_);
    auto it = cache_.find(key);
    // A nonce answer keeps the cached response, whose status is the same.
    if (it != cache_.end() && it->second.revision == revision && !cacheable) {
      // nothing to add
    } else {
      if (cache_.size() >= kMaxCached && it == cache_.end()) cache_.clear();
      cache_.insert_or_assign(key, std::move(entry));
    }
  }
  if (!cacheable) return OcspAnswer{.der = std::move(shared)};
  const std::chrono::seconds validity(validity_seconds_.load(std::memory_order_relaxed));
  return OcspAnswer{.der = std::move(shared),
                    .this_update = now,
                    .next_update = now + validity,
                    .fresh_until = now + validity / 2};
}

}  // namespace scepter::ca
