#pragma once
// Conversions between TimePoint and ASN1_TIME. Internal to pki/.

#include "common/clock.h"
#include "common/status.h"
#include "pki/ptr.h"

namespace scepter::pki {

// UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5). Fails with
// kInvalidArgument for times OpenSSL cannot represent.
Result<Ptr<ASN1_TIME>> to_asn1_time(TimePoint t);
// Fails with kInvalidArgument on a malformed time.
Result<TimePoint> from_asn1_time(const ASN1_TIME* t);

}  // namespace scepter::pki
