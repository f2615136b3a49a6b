#include "pki/asn1_time.h"

#include <ctime>

#include <openssl/err.h>

namespace scepter::pki {

Result<Ptr<ASN1_TIME>> to_asn1_time(TimePoint t) {
  Ptr<ASN1_TIME> out(ASN1_TIME_set(nullptr, static_cast<time_t>(to_unix(t))));
  if (!out) return fail(last_error(Code::kInvalidArgument, "time out of range"));
  return out;
}

Result<TimePoint> from_asn1_time(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return fail(invalid_argument("malformed time"));
  }
  return from_unix(static_cast<std::int64_t>(timegm(&tm)));
}

}  // namespace scepter::pki
