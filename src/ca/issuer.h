#pragma once
// Issuer: turns a granted request into a certificate — serial, validity, profile,
// signature — and commits it durably with the request's new state before anyone sees
// it. It decides nothing: the request policy (request_policy.h) granted the request
// before it gets here. In the spirit of Botan's X509_CA: the signer, the store and the
// clock are given to it.
//
// Failures: kUnavailable when the CA certificate has expired or the store cannot commit
// (nothing was handed out; the serial may be skipped, never reused); kInvalidArgument for
// a request the profile cannot certify; the store's codes for a batch that fails (e.g.
// kNotFound when a one-time password added to `also` was used meanwhile).
//
// Thread-safe: several threads may issue at once; serials come from the store.

#include <atomic>
#include <functional>
#include <optional>

#include "ca/server_config.h"
#include "common/clock.h"
#include "common/status.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "pki/profile.h"
#include "store/store.h"

namespace scepter::ca {

// Work beside the commit of a new certificate: see Issuer::Order::while_committing.
using WhileCommitting = std::function<void(const pki::Certificate&)>;

class Issuer {
 public:
  // All borrowed except the CA certificate and key, which are shared handles.
  // `ocsp_url` gives the OCSP URL of the device (http://HOST[:PORT]/ocsp) for a
  // configuration with `ocsp` and no `ocsp url`; empty: none.
  Issuer(store::Store& store, pki::Certificate ca_cert, pki::Key ca_key, const Clock& clock,
         std::function<std::string()> ocsp_url = {});

  const pki::Certificate& ca_certificate() const { return ca_cert_; }
  const pki::Key& ca_key() const { return ca_key_; }

  struct Order {
    store::RequestRecord& request;  // stored as granted with the serial on success
    const pki::Csr& csr;            // the request's parsed PKCS#10
    // The RA key that re-signed the request, when its own key did not sign it.
    std::optional<pki::Key> csr_signer = std::nullopt;
    const ServerConfig& config;                // lifetime, hash, cdp-url, eku
    std::optional<store::Serial> predecessor;  // renewal of this certificate
    // Set: a subordinate CA certificate (the operator granted a CA request). Its
    // validity, like any certificate's, ends at the latest with the CA certificate's.
    std::optional<pki::CaProfile> ca = std::nullopt;
    store::WriteBatch also;  // committed in the same transaction (e.g. the OTP's use)
    // A rollover certificate (issued under a shadow CA before it is in force): valid from
    // `not_before` rather than now, and `shorten` less long than configured (jitter, so
    // that the clients of a rollover do not all renew at once).
    std::optional<TimePoint> not_before = std::nullopt;
    Seconds shorten{0};
    // Called with the new certificate while its commit is in flight (Store::
    // write_overlapped), on this thread: the caller may prepare what carries it (the
    // SCEP CertRep) but must not let it out unless issue() succeeds. May be called
    // and then the certificate never committed; must not throw.
    WhileCommitting while_committing = {};
  };
  // What was committed, and the certificate as parsed once from its DER.
  struct Issued {
    store::CertRecord record;
    pki::Certificate certificate;
  };
  Result<Issued> issue(Order order);

  // The highest serial committed by this Issuer, or given to it at start.
  store::Serial last_issued() const { return last_issued_.load(); }
  void note_issued(store::Serial serial);

 private:
  store::Store& store_;
  const pki::Certificate ca_cert_;
  const pki::Key ca_key_;
  const Clock& clock_;
  const std::function<std::string()> ocsp_url_;
  std::atomic<store::Serial> last_issued_{0};
};

}  // namespace scepter::ca
