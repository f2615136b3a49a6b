#pragma once
// The audit trail: an append-only file (nvram:audit.log, mode 0600) of security events,
// one JSON object per line. Each record carries the hash of the one before it, and from
// time to time a checkpoint record carries a CA key's signature of that chain. Editing,
// inserting or deleting a record breaks the chain at that point; rewriting the chain
// from there on also takes a CA key, because of the checkpoints after it.
//
//   {"actor":"shell uid 0","ca":"mycs","detail":"crypto pki server mycs grant 3",
//    "event":"command","hash":"<64 hex>","outcome":"ok","prev":"<64 hex>","seq":7,
//    "time":"2026-12-06T09:30:00Z"}
//
// `hash` is SHA-256 of the record's JSON without `hash`: keys sorted, no spaces, UTF-8
// (so it includes `prev`). The first record's `prev` is 64 zeros. A checkpoint (event
// "checkpoint", `ca` its signer's label) also carries `signer`, the base64 DER of the
// signing certificate, and `signature`, its key's signature (pki::Key::sign) of the
// checkpoint's `prev`. That signature vouches for every record before the checkpoint.
//
// What it does not do: records after the last checkpoint can be cut off without a trace
// (checkpoints come at most a minute apart while records arrive), and someone who holds a
// CA key can rewrite everything. A copy kept elsewhere (syslog, a SIEM) is the answer to
// both. Records are written at once (write(2), which a crash of scepterd does not lose)
// and synced to disk with each checkpoint.
//
// Thread safety: AuditLog's methods may be called from any thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace scepter::ca {

struct AuditEvent {
  std::string event;    // "command", "checkpoint", "start", ...
  std::string actor;    // who: "shell uid 0", "scepterd"
  std::string ca;       // the certificate server concerned, or ""
  std::string detail;   // what: a command line with its secrets masked, ...
  std::string outcome;  // "ok", or what went wrong
};

struct AuditRecord : AuditEvent {
  std::uint64_t seq = 0;
  std::string time;  // UTC, "2026-12-06T09:30:00Z"
};

class AuditLog {
 public:
  // Opens the log at `path`, creating it, and reads its last record to go on from. A
  // last line without its line feed (a crash in the middle of a write) is ended first,
  // so that verify_audit() names it. Fails with kUnavailable when the file cannot be
  // opened or read.
  static Result<std::unique_ptr<AuditLog>> open(std::string path, const Clock& clock);

  // Appends a record. A failure to write is logged as an error, not returned: the action
  // it records has happened.
  void record(const AuditEvent& event);

  // Appends a record of an event a client without credentials can cause at will (a
  // failed login, a refused enrolment request): at most kUntrustedPerMinute such
  // records a minute over all of them, so that a flood cannot fill the disk or bury
  // the operators' records. Those left out are counted in the detail of the next one
  // recorded.
  void record_untrusted(const AuditEvent& event);

  // Records since the last checkpoint.
  std::uint64_t unsigned_records() const;
  // Appends a checkpoint signed with `key` (the certificate server `label`'s, whose
  // certificate is `cert`) and syncs the file. Nothing when there is no record since the
  // last checkpoint.
  Status checkpoint(const std::string& label, const pki::Certificate& cert, const pki::Key& key);

  const std::string& path() const { return path_; }

 private:
  AuditLog(std::string path, const Clock& clock, UniqueFd fd)
      : path_(std::move(path)), clock_(clock), fd_(std::move(fd)) {}
  // Writes one record with the next seq and the chain's head; returns its hash.
  Result<std::string> append_locked(const AuditEvent& event, const std::string* signer,
                                    const std::string* signature) REQUIRES(mu_);

  const std::string path_;
  const Clock& clock_;
  mutable Mutex mu_;
  UniqueFd fd_ GUARDED_BY(mu_);
  std::uint64_t seq_ GUARDED_BY(mu_) = 0;  // of the last record
  std::string head_ GUARDED_BY(mu_);       // its hash (64 zeros before the first)
  std::uint64_t unsigned_ GUARDED_BY(mu_) = 0;
  // record_untrusted(): the minute being counted, and what was written and left out.
  TimePoint untrusted_window_ GUARDED_BY(mu_){};
  int untrusted_written_ GUARDED_BY(mu_) = 0;
  std::uint64_t untrusted_left_out_ GUARDED_BY(mu_) = 0;
};

inline constexpr int kUntrustedPerMinute = 30;

// The last `count` records of the log at `path` (all of them for 0), oldest first; a
// line that is not a record is skipped.
Result<std::vector<AuditRecord>> read_audit(const std::string& path, std::size_t count = 0);

struct AuditVerification {
  std::uint64_t records = 0;        // read and verified
  std::uint64_t checkpoints = 0;    // among them
  std::uint64_t unsigned_tail = 0;  // records after the last checkpoint
  // The first line that does not verify (1-based) and why; nullopt when all do.
  std::optional<std::uint64_t> bad_line;
  std::string problem;
  // "mycs (serial 0x1)" for each certificate that signed a checkpoint.
  std::vector<std::string> signers;
};

// Walks the whole log: each line's hash, the link to the line before, the sequence, and
// each checkpoint's signature, whose certificate must be one of `trusted` (the CA
// certificates this device holds). A checkpoint by another certificate (the CA's before
// a rollover) is good when its signature verifies and a later checkpoint by one of
// `trusted` covers it: so the last checkpoint must be by one of `trusted`, and when it
// is not, `bad_line` names the first checkpoint after the last trusted one.
Result<AuditVerification> verify_audit(const std::string& path,
                                       const std::vector<pki::Certificate>& trusted);

}  // namespace scepter::ca
