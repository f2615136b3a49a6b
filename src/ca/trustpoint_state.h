#pragma once
// Private to ca/: how TrustpointClient keeps a trustpoint's state in nvram:NAME.tp — JSON
// with the CA's certificates and capabilities as authenticated, the enrolled certificate
// (PEM) and a request in flight. Pure functions; thread-safe.

#include <string>

#include "ca/trustpoint_client.h"
#include "common/status.h"

namespace scepter::ca {

std::string encode_state(const EnrollmentState& state);
// kInvalidArgument for text that is not such a state (the caller skips the file).
Result<EnrollmentState> decode_state(const std::string& text);

}  // namespace scepter::ca
