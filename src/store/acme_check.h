#pragma once
// The checks every engine makes on an ACME record before storing it (store.h: the
// bounds of AcmeRecord), so that they refuse the same records with the same message.

#include <cstddef>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "common/status.h"
#include "store/store.h"

namespace scepter::store {

inline constexpr std::size_t kMaxAcmeIdBytes = 128;
inline constexpr std::size_t kMaxAcmeOwnerBytes = 128;
inline constexpr std::size_t kMaxAcmeBodyBytes = 64 * 1024;

// What the messages call a kind ("order 'abc'").
inline const char* acme_kind_name(AcmeKind kind) {
  switch (kind) {
    case AcmeKind::kAccount:
      return "account";
    case AcmeKind::kAccountKey:
      return "account key";
    case AcmeKind::kOrder:
      return "order";
    case AcmeKind::kAuthorization:
      return "authorization";
  }
  return "ACME record";
}

// Whether an integer read from a database is an AcmeKind this build knows.
inline bool is_acme_kind(long long v) {
  return v >= static_cast<int>(AcmeKind::kAccount) &&
         v <= static_cast<int>(AcmeKind::kAuthorization);
}

// kInvalidArgument for an unknown kind, an id, owner or body over its bound, or a
// version that is negative or cannot be incremented.
inline Status check_acme_record(const AcmeRecord& rec) {
  if (!is_acme_kind(static_cast<int>(rec.kind))) {
    return invalid_argument(fmt::format("unknown ACME record kind {}", static_cast<int>(rec.kind)));
  }
  const char* what = acme_kind_name(rec.kind);
  if (rec.id.size() > kMaxAcmeIdBytes) {
    return invalid_argument(
        fmt::format("{} id of {} bytes (at most {})", what, rec.id.size(), kMaxAcmeIdBytes));
  }
  if (rec.owner.size() > kMaxAcmeOwnerBytes) {
    return invalid_argument(fmt::format("{} owner of {} bytes (at most {})", what, rec.owner.size(),
                                        kMaxAcmeOwnerBytes));
  }
  if (rec.body.size() > kMaxAcmeBodyBytes) {
    return invalid_argument(
        fmt::format("{} body of {} bytes (at most {})", what, rec.body.size(), kMaxAcmeBodyBytes));
  }
  if (rec.version < 0 || rec.version == std::numeric_limits<std::int64_t>::max()) {
    return invalid_argument(fmt::format("{} version {} is out of range", what, rec.version));
  }
  return ok_status();
}

}  // namespace scepter::store
