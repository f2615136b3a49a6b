#pragma once
// OcspResponder: the OCSP answers (RFC 6960) of one CA, from its database.
//
// A CertID names a certificate by issuer and serial. The responder answers for its CA's
// current certificate only (the issuer hashes of pki::ocsp::IssuerMatch); the status
// comes from the certificates table: `good` for a certificate of that serial (and, with
// entropy, that exact serial), `revoked` with its time and reason, `unknown` for any
// other serial.
//
// Every answer is cached by CertID, signed once: a response is re-signed only when the
// revocations changed (CrlPublisher::revision(), which moves once a revocation or an
// unrevocation is durable, here or on another node) or when half of its validity has
// passed. A request with a nonce gets a response signed for it (its status still comes
// from the cache), unless the settings ignore nonces (RFC 5019 2.1: a responder may).
//
// Thread-safe: answers are made concurrently; signing holds no lock.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "ca/server_config.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "pki/ocsp.h"
#include "store/store.h"

namespace scepter::ca {

struct OcspSettings {
  bool enabled = false;
  std::chrono::seconds validity{std::chrono::hours(24)};  // thisUpdate to nextUpdate
  bool nonce = true;                                      // false: nonces are ignored
};

// The settings of ServerConfig's ocsp lines.
OcspSettings ocsp_settings(const ServerConfig& cfg);

// One answer, ready to send.
struct OcspAnswer {
  std::shared_ptr<const std::string> der;  // the OCSPResponse
  // A successful single answer without a nonce: its thisUpdate and nextUpdate, and until
  // when a cache may keep it (RFC 5019 6.2: Last-Modified, Expires, max-age).
  std::optional<TimePoint> this_update = std::nullopt;
  std::optional<TimePoint> next_update = std::nullopt;
  std::optional<TimePoint> fresh_until = std::nullopt;
};

// The unsigned answer of that status (malformedRequest, unauthorized, ...).
OcspAnswer ocsp_error(pki::ocsp::ResponseStatus status);

class OcspResponder {
 public:
  // `store` and `clock` are borrowed and must outlive the responder; `revision` reads the
  // CRL publisher's revision (see above).
  // `certificate`: a delegated responder's, which the signer signs with; nullopt when the
  // CA key signs.
  OcspResponder(const store::Store& store, const Clock& clock, const pki::Certificate& issuer,
                pki::ocsp::ResponseSigner signer, std::function<std::uint64_t()> revision,
                std::optional<pki::Certificate> certificate = std::nullopt);

  const std::optional<pki::Certificate>& certificate() const { return certificate_; }

  void configure(const OcspSettings& settings);
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  // Whether the request asks about this CA (its first CertID names it).
  bool serves(const pki::ocsp::Request& request) const;
  // The answer from the cache alone (no database read, no signature), when it has one.
  std::optional<OcspAnswer> cached(const pki::ocsp::Request& request) const;
  // The answer, reading the database and signing as needed. A CertID for another issuer
  // gets `unauthorized`, a database that cannot be read `tryLater`, a signing failure
  // `internalError`.
  OcspAnswer answer(const pki::ocsp::Request& request);
  // answer() when it needs nothing but the CPU: a request about one certificate whose
  // status the cache holds (for the current revision), signed with a key in this process.
  // nullopt when answer() would read the database or wait for a token.
  std::optional<OcspAnswer> answer_from_memory(const pki::ocsp::Request& request);

  // Entries kept; beyond it the cache starts over (a flood of random serials cannot
  // grow it).
  static constexpr std::size_t kMaxCached = 100'000;

 private:
  struct Status {
    pki::ocsp::CertStatus status = pki::ocsp::CertStatus::kUnknown;
    TimePoint revoked_at = {};
    std::optional<int> reason = std::nullopt;
  };
  struct Entry {
    Status status;
    std::uint64_t revision = 0;
    TimePoint this_update = {};
    std::shared_ptr<const std::string> der;  // signed without a nonce
  };
  bool caches_response(const pki::ocsp::Request& request) const;
  // answer() for a request about one certificate; with `may_read` false, nullopt instead
  // of reading the database.
  std::optional<OcspAnswer> answer_one(const pki::ocsp::Request& request, bool may_read);
  OcspAnswer from_entry(const Entry& e) const;
  Result<Status> read_status(const pki::ocsp::CertId& id) const;
  Result<std::string> sign(const pki::ocsp::CertId& id, const Status& status, TimePoint now,
                           std::string_view nonce) const;

  const store::Store& store_;
  const Clock& clock_;
  const pki::ocsp::IssuerMatch match_;
  const pki::ocsp::ResponseSigner signer_;
  const std::function<std::uint64_t()> revision_;
  const std::optional<pki::Certificate> certificate_;

  std::atomic<bool> enabled_{false};
  std::atomic<bool> nonce_{true};
  std::atomic<std::int64_t> validity_seconds_{86400};

  // Held for a lookup or an insertion only (never across I/O or a signature).
  mutable Mutex mu_;
  std::unordered_map<std::string, Entry> cache_ GUARDED_BY(mu_);  // by CertID DER
};

}  // namespace scepter::ca
