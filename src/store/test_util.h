#pragma once
// Helpers for the store's tests: a scratch directory and record builders.

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "store/store.h"

namespace scepter::store::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "scepter-store-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A certificate record whose fields all derive from the serial (DER with NUL bytes).
inline CertRecord make_cert(Serial serial) {
  CertRecord c;
  c.serial = serial;
  c.der = std::string("\x30\x82\x00\x01", 4) + std::to_string(serial) + std::string(1, '\0');
  c.subject = "hostname=r" + std::to_string(serial) + ",cn=r" + std::to_string(serial);
  const auto small = static_cast<std::int64_t>(serial % 1'000'000);
  c.not_before = from_unix(1'700'000'000 + small);
  c.not_after = from_unix(1'731'536'000 + small);
  c.request_id = small + 1000;
  return c;
}

inline RequestRecord make_request(RequestId id, std::string tid = "") {
  RequestRecord r;
  r.id = id;
  r.state = RequestState::kPending;
  r.kind = RequestKind::kRouter;
  r.transaction_id = std::move(tid);
  r.csr_der = std::string("\x30\x82\x00\x00", 4) + std::to_string(id);
  r.fingerprint = "0123456789ABCDEF0123456789ABCDEF";
  r.subject = "hostname=req" + std::to_string(id);
  r.created = from_unix(1'700'000'000 + id % 1'000'000'000);
  r.signer_cert_der = std::string("\x30\x00", 2);
  r.flags = 3;
  return r;
}

inline WriteBatch one_cert(Serial serial) {
  WriteBatch b;
  b.put_certificate(make_cert(serial));
  return b;
}

}  // namespace scepter::store::testing
