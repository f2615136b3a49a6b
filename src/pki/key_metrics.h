#pragma once
// /metrics: how long private-key operations take, by operation ("sign", "decrypt") and
// object ("certificate", "CRL", "OCSP response", "SCEP reply", "SCEP request"), whether
// the key is in memory or on a token.

#include <string_view>

#include "common/metrics.h"

namespace scepter::pki {

metrics::Histogram& key_operation_histogram(std::string_view operation, std::string_view object);

}  // namespace scepter::pki
