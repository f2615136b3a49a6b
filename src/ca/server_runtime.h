#pragma once
// Private to ca/: the state a CertificateServer has only while enabled.

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ca/certificate_server.h"
#include "pki/crl.h"
#include "pki/key.h"
#include "store/store.h"

namespace scepter::ca {

// Meta keys in the main database.
inline constexpr const char* kMetaCaCert = "ca_cert";
inline constexpr const char* kMetaLastSerial = "last_serial";
inline constexpr const char* kMetaLastRequest = "last_request_id";
inline constexpr const char* kMetaCrlNumber = "crl_number";
inline constexpr const char* kMetaOtp = "otp";  // "<sha256 hex> <expiry unix>"
inline constexpr const char* kMetaArchived = "archived";

// Requests for RSA keys smaller than this are refused: old IOS images generate 512-bit
// keys on their own, and a CA should not silently certify them.
inline constexpr int kMinRsaBits = 1024;

// The seed's rule for RA certificates: "cn=ioscs RA" or "ou=ioscs RA" in the subject
// (IOS display form, any case).
inline bool is_ra_name(std::string ios_subject) {
  std::transform(ios_subject.begin(), ios_subject.end(), ios_subject.begin(), ::tolower);
  return ios_subject.find("cn=ioscs ra") != std::string::npos ||
         ios_subject.find("ou=ioscs ra") != std::string::npos;
}

struct CertificateServer::Runtime {
  std::unique_ptr<store::Store> store;
  // Set by enable() before the runtime is published; immutable afterwards.
  std::optional<pki::Certificate> ca_cert;
  std::optional<pki::Key> ca_key;

  // Serial and request id allocation: a short lock, never held while signing.
  std::mutex alloc_mu;
  Serial last_serial = 0;      // GUARDED_BY(alloc_mu): last serial handed out
  Serial last_issued = 0;      // GUARDED_BY(alloc_mu): highest serial committed
  RequestId last_request = 0;  // GUARDED_BY(alloc_mu)

  // Request state transitions (grant/reject/remove/expire) are serialised here so that
  // a request is never granted twice.
  std::mutex request_mu;

  // SCEP requests with the same transactionID are serialised on one of these stripes, so
  // a retry never creates a second request; different transactions run in parallel.
  static constexpr std::size_t kTransactionStripes = 64;
  std::mutex transaction_mu[kTransactionStripes];

  // The CRL: revocations and CRL builds are serialised.
  mutable std::mutex crl_mu;
  std::optional<pki::CrlBuilder> crl;  // GUARDED_BY(crl_mu)
  std::string crl_der;                 // GUARDED_BY(crl_mu)
  TimePoint crl_this_update{};         // GUARDED_BY(crl_mu)
  TimePoint crl_next_update{};         // GUARDED_BY(crl_mu)
  std::uint64_t crl_number = 0;        // GUARDED_BY(crl_mu)
  bool crl_dirty = false;              // GUARDED_BY(crl_mu): last write failed

  TimePoint last_expiry_check{};  // GUARDED_BY(request_mu)
  // When the database was last checkpointed (timer thread only).
  std::atomic<std::int64_t> last_checkpoint{0};

  std::mutex otp_mu;
  std::string otp_digest;   // GUARDED_BY(otp_mu): SHA-256 hex of the live password
  TimePoint otp_expires{};  // GUARDED_BY(otp_mu)
};

}  // namespace scepter::ca
