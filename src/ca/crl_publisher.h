#pragma once
// CrlPublisher: the CRL of one certificate server. It keeps every revocation in a
// pki::CrlBuilder (finished DER per entry), signs a new CRL when a certificate is revoked
// or unrevoked and before nextUpdate, makes each CRL number durable before the CRL that
// carries it, and writes LABEL.crl to its storage and publish locations.
//
// Failures: a CRL that cannot be written leaves dirty() set; the caller treats it as
// critical (IOS disables the server) and refresh_if_due() retries it at every call.
//
// Thread-safe: revocations and CRL builds are serialised on one lock; readers (der(),
// next_update(), dirty()) take another, held only to copy or swap what was published, so
// serving the CRL (GetCRL, a shared immutable string: nothing copied) or showing the
// server never waits for a revocation, a CRL build or a CRL write.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ca/server_config.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "files/file_set.h"
#include "pki/certificate.h"
#include "pki/crl.h"
#include "pki/key.h"
#include "store/store.h"

namespace scepter::ca {

// Revocations of certificates the database does not hold: those of a CA moved here from
// another server (the entries of its last CRL, and what is revoked later of what it issued
// there). Kept in meta kMetaForeignRevocations, one "SEQUENCE ENTROPY|- UNIX-SECONDS" line
// each (decimal).
std::string format_foreign_revocations(const std::vector<pki::CrlInfo::Entry>& entries);
Result<std::vector<pki::CrlInfo::Entry>> parse_foreign_revocations(std::string_view text);

class CrlPublisher {
 public:
  // `store` and `clock` are borrowed and must outlive the publisher.
  CrlPublisher(store::Store& store, pki::Certificate ca_cert, pki::Key ca_key, const Clock& clock,
               std::string label);

  // Start-up: every revocation from the store (the foreign ones too); the CRL file is reused when
  // it is valid (signed by us, lists every revocation, not past nextUpdate), otherwise a new one is
  // published. The seed: "When the certificate server is rebooted, it reloads the
  // current CRL".
  Status load(const ServerConfig& cfg, files::FileSet files);
  // Records the revocation durably, then publishes a new CRL at once. `serial` is the
  // certificate's whole serial (the CRL entry carries its entropy). kNotFound for an
  // unknown serial, kAlreadyExists when already revoked; kUnavailable (with dirty() set)
  // when the revocation is recorded but the CRL could not be written.
  Status revoke(const pki::SerialNumber& serial, const ServerConfig& cfg, files::FileSet files);
  // The same for a certificate the database does not hold (issued by this CA on the
  // server it came from): recorded with the foreign revocations. kAlreadyExists when
  // listed already.
  Status revoke_foreign(const pki::SerialNumber& serial, const ServerConfig& cfg,
                        files::FileSet files);
  // Takes a revocation back (`unrevoke`) durably, then publishes a new CRL at once without
  // it. `serial` is the certificate's whole serial, as for revoke(). kNotFound for an
  // unknown serial, kInvalidArgument when not revoked; kUnavailable (with dirty() set) when
  // the change is recorded but the CRL could not be written.
  Status unrevoke(const pki::SerialNumber& serial, const ServerConfig& cfg, files::FileSet files);
  // The same for a foreign revocation: kInvalidArgument when none lists this sequence
  // number (and, if `serial` has entropy, this entropy).
  Status unrevoke_foreign(const pki::SerialNumber& serial, const ServerConfig& cfg,
                          files::FileSet files);
  // The timer: a new CRL when 1/8 of its lifetime is left (at least a minute early), or
  // when the last write failed.
  Status refresh_if_due(const ServerConfig& cfg, files::FileSet files);

  // The current CRL (DER), or null before the first one.
  std::shared_ptr<const std::string> der() const;
  std::optional<TimePoint> next_update() const;
  bool dirty() const;

 private:
  Status publish_locked(const ServerConfig& cfg, files::FileSet files) REQUIRES(mu_);
  // publish_locked() after a change to the revocations; `done` says what was recorded
  // ("revoked") in the kUnavailable message when the CRL could not be written.
  Status publish_change_locked(std::string_view done, const ServerConfig& cfg, files::FileSet files)
      REQUIRES(mu_);
  Result<std::vector<pki::CrlInfo::Entry>> foreign_locked() const REQUIRES(mu_);
  // Hands der_, next_update_ and dirty_ to the readers; called after each change.
  void show_locked() REQUIRES(mu_);

  store::Store& store_;
  const pki::Certificate ca_cert_;
  const pki::Key ca_key_;
  const Clock& clock_;
  const std::string label_;

  mutable Mutex mu_;
  std::optional<pki::CrlBuilder> crl_ GUARDED_BY(mu_);
  std::shared_ptr<const std::string> der_ GUARDED_BY(mu_);
  TimePoint this_update_ GUARDED_BY(mu_){};
  TimePoint next_update_ GUARDED_BY(mu_){};
  std::uint64_t number_ GUARDED_BY(mu_) = 0;
  bool dirty_ GUARDED_BY(mu_) = false;  // the last write failed

  // What readers see: a copy of the published state, never held across slow work.
  struct View {
    std::shared_ptr<const std::string> der;
    std::optional<TimePoint> next_update;
    bool dirty = false;
  };
  mutable Mutex view_mu_;
  View view_ GUARDED_BY(view_mu_);
};

}  // namespace scepter::ca
