#pragma once
// OtpStore: the one-time enrollment password of one certificate server (`crypto pki
// server X password generate [minutes]`). Only its SHA-256 is kept, in memory and in the
// main database (so it survives a restart). Using it is a conditional delete in the
// database, committed in the same batch as the certificate it pays for: of two requests
// racing with the same password, exactly one is granted.
//
// Thread-safe.

#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "store/store.h"

namespace scepter::ca {

struct OneTimePassword {
  std::string password;
  TimePoint expires{};
};

class OtpStore {
 public:
  // Both are borrowed and must outlive the OtpStore.
  OtpStore(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Reads the stored password (if any). A malformed stored value is ignored (no password).
  Status load();
  // A new password, valid for `minutes`; the previous one is void.
  Result<OneTimePassword> generate(int minutes);
  // True when `candidate` is the live password (constant-time compare). Consumes nothing.
  bool matches(std::string_view candidate) const;
  // Adds the consumption of the live password to `batch` (which then fails with kNotFound
  // if another request used it first). False when `candidate` is not the live password.
  bool add_consumption(std::string_view candidate, store::WriteBatch& batch) const;
  // After a batch with add_consumption() committed.
  void consumed();
  // Consumes it on its own (tests, tools): true once, false afterwards.
  bool consume(std::string_view candidate);

 private:
  store::Store& store_;
  const Clock& clock_;
  mutable Mutex mu_;
  std::string stored_ GUARDED_BY(mu_);  // "<sha256 hex> <expiry unix>", as in the database
  std::string digest_ GUARDED_BY(mu_);
  TimePoint expires_ GUARDED_BY(mu_){};
};

}  // namespace scepter::ca
