#pragma once
// CrlPublisher: the CRL of one certificate server. It keeps every revocation in a
// pki::CrlBuilder (finished DER per entry), signs a new CRL when a certificate is revoked
// or unrevoked and before nextUpdate, makes each CRL number durable before the CRL that
// carries it, and writes LABEL.crl to its storage and publish locations.
//
// Failures: a CRL that cannot be written leaves dirty() set; the caller treats it as
// critical (IOS disables the server) and refresh_if_due() retries it at every call.
//
// Several nodes on one database (Store::shared(), PostgreSQL): one of them at a time
// publishes, the holder of the store role "crl:LABEL". It keeps the revocations, signs
// each CRL with a CRL number that the database compares and sets (so it never goes
// backwards, whoever publishes), stores the CRL in the database beside the number, and
// tells the other nodes ("crl:LABEL" event), which serve it from there. A node that is
// not the holder records a revocation and tells the holder ("revoked:LABEL"); should
// nobody hold the role, it takes it and publishes itself. refresh_if_due() (the timer)
// notices a lost role, takes a free one, and catches up with a CRL whose event it
// missed. On a database one process has to itself the publisher always holds the role.
//
// Thread-safe: revocations and CRL builds are serialised on one lock; readers (der(),
// next_update(), dirty()) take another, held only to copy or swap what was published, so
// serving the CRL (GetCRL, a shared immutable string: nothing copied) or showing the
// server never waits for a revocation, a CRL build or a CRL write.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

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
// each (decimal); they keep no revocation reason.
std::string format_foreign_revocations(const std::vector<pki::CrlInfo::Entry>& entries);
Result<std::vector<pki::CrlInfo::Entry>> parse_foreign_revocations(std::string_view text);

class CrlPublisher {
 public:
  // `store` and `clock` are borrowed and must outlive the publisher.
  CrlPublisher(store::Store& store, pki::Certificate ca_cert, pki::Key ca_key, const Clock& clock,
               std::string label);
  ~CrlPublisher();  // stops watching the other nodes first
  CrlPublisher(const CrlPublisher&) = delete;
  CrlPublisher& operator=(const CrlPublisher&) = delete;

  // Start-up: every revocation from the store (the foreign ones too), with the reason
  // recorded for it (a stored code no CRL entry may carry is left out); the CRL file (on a
  // shared database, the CRL stored there) is reused when it is valid (signed by us,
  // lists every revocation, not past nextUpdate), otherwise a new one is published. The
  // seed: "When the certificate server is rebooted, it reloads the current CRL". A node
  // that does not hold the CRL role serves the stored CRL.
  Status load(const ServerConfig& cfg, files::FileSet files);
  // Records the revocation durably, then publishes a new CRL at once (or has the holder
  // of the CRL role publish it). `serial` is the certificate's whole serial (the CRL
  // entry carries its entropy); `reason`, an RFC 5280 CRLReason code, is stored with the
  // revocation and becomes the entry's reasonCode (none for unspecified).
  // kInvalidArgument for a reason a CRL entry cannot carry (pki::is_crl_entry_reason),
  // kNotFound for an unknown serial, kAlreadyExists when already revoked; kUnavailable
  // (with dirty() set) when the revocation is recorded but the CRL could not be written.
  Status revoke(const pki::SerialNumber& serial, std::optional<int> reason, const ServerConfig& cfg,
                files::FileSet files);
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
  // The current CRL for /metrics; nullopt before the first one.
  struct Gauges {
    std::size_t der_bytes = 0;
    std::size_t entries = 0;  // the serials it lists
    TimePoint this_update{};
    TimePoint next_update{};
  };
  std::optional<Gauges> gauges() const;
  // Who publishes, on a shared database: this node (`here`), or the node named, as it
  // named itself ("HOST pid N"); empty when nobody has yet. Null on a database one
  // process has to itself.
  struct Publisher {
    bool here = false;
    std::string node;
  };
  std::optional<Publisher> publisher() const;
  // Moves whenever the revocations may have changed: a revocation or unrevocation made
  // durable here, a CRL published here or taken from another node. The OCSP responder
  // keeps an answer only while this has not moved. Lock-free.
  std::uint64_t revision() const { return revision_.load(std::memory_order_acquire); }

  // The events between nodes (Store::watch).
  static std::string revoked_event(std::string_view label) {
    return fmt::format("revoked:{}", label);
  }
  static std::string published_event(std::string_view label) {
    return fmt::format("crl:{}", label);
  }

 private:
  Status publish_locked(const ServerConfig& cfg, files::FileSet files) REQUIRES(mu_);
  // publish_locked() after a change to the revocations; `done` says what was recorded
  // ("revoked") in the kUnavailable message when the CRL could not be written.
  Status publish_change_locked(std::string_view done, const ServerConfig& cfg, files::FileSet files)
      REQUIRES(mu_);
  Result<std::vector<pki::CrlInfo::Entry>> foreign_locked() const REQUIRES(mu_);
  // Hands der_, next_update_ and dirty_ to the readers; called after each change.
  void show_locked() REQUIRES(mu_);

  // Records a change of the revocations (`batch`, durably), then `apply` updates the
  // builder and a new CRL is published; on a node without the CRL role the holder is
  // told instead (or the role taken, when free).
  Status change_locked(store::WriteBatch batch,
                       const std::function<Status(pki::CrlBuilder&)>& apply, std::string_view done,
                       const ServerConfig& cfg, files::FileSet files) REQUIRES(mu_);
  // Every revocation (and the CRL number) read again from the store.
  Status rebuild_locked() REQUIRES(mu_);
  // Becomes the publisher: rebuilds, then reuses `current` (the CRL file; on a shared
  // database the stored CRL) if it is still valid, or publishes a new CRL. On a shared
  // database a failure before publishing gives the role back.
  Status hold_locked(std::optional<std::string> current, const ServerConfig& cfg,
                     files::FileSet files) REQUIRES(mu_);
  bool holder_locked() const REQUIRES(mu_) { return !shared_ || role_ != nullptr; }
  // Shared database: takes the CRL role if it is free (false when another node holds it
  // or the database cannot be reached).
  bool take_role_locked() REQUIRES(mu_);
  void lose_role_locked(std::string_view why) REQUIRES(mu_);
  // Not the holder: serves the stored CRL when it is newer than the one served.
  Status follow_locked() REQUIRES(mu_);
  // An event from another node.
  void on_event(const std::string& event);

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
  std::size_t entries_ GUARDED_BY(mu_) = 0;  // the serials der_ lists
  std::uint64_t number_ GUARDED_BY(mu_) = 0;
  bool dirty_ GUARDED_BY(mu_) = false;  // the last write failed

  // Shared database only.
  const bool shared_;
  const std::string node_;                                  // this node, as others see it
  std::unique_ptr<store::RoleLease> role_ GUARDED_BY(mu_);  // the CRL role, when held
  std::string publisher_ GUARDED_BY(mu_);                   // the holder's name, as stored
  // What the last call passed, for publishing on an event.
  std::optional<ServerConfig> cfg_ GUARDED_BY(mu_);
  std::optional<files::FileSet> files_ GUARDED_BY(mu_);

  // What readers see: a copy of the published state, never held across slow work.
  struct View {
    std::shared_ptr<const std::string> der;
    std::optional<TimePoint> next_update;
    bool dirty = false;
    std::optional<Publisher> publisher;
    TimePoint this_update{};
    std::size_t entries = 0;
  };
  mutable Mutex view_mu_;
  View view_ GUARDED_BY(view_mu_);
  std::atomic<std::uint64_t> revision_{0};

  // Last: stopped (its thread joined) before anything it calls into goes.
  std::unique_ptr<store::Watch> watch_;
};

}  // namespace scepter::ca
