#pragma once
// Text encodings of binary data: base64, PEM, hex. DER and other binary values are
// carried in std::string (bytes, not text) and viewed through std::string_view, like
// the rest of pki/.
//
// All functions are pure and thread-safe. Decoders take untrusted input and fail with
// Code::kInvalidArgument; they never crash on bad bytes.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace scepter::pki {

// Standard base64 (RFC 4648 section 4) with '=' padding. With line_width > 0 the text is
// cut into lines of that many characters and every line, the last included, ends in
// "\n". With line_width == 0 it is one line without a newline. Empty input gives "".
std::string base64_encode(std::string_view bytes, std::size_t line_width = 64);

// Decodes base64 the way an operator pastes it: whitespace and line breaks anywhere are
// ignored, '=' padding may be missing, and the URL-safe alphabet ('-' and '_') is
// accepted as well as '+' and '/'. Fails with kInvalidArgument on any other character,
// padding in the middle, or a length that cannot be base64. Empty text gives "".
Result<std::string> base64_decode(std::string_view text);

// base64url (RFC 4648 section 5) without padding, as JOSE writes it (RFC 7515 section 2).
// Empty input gives "".
std::string base64url_encode(std::string_view bytes);

// Decodes base64url strictly, as JOSE requires: only A-Z a-z 0-9 '-' '_', no padding,
// no whitespace, no length that leaves a single character in the last quantum, and the
// unused bits of the last character zero (so every byte string has exactly one
// encoding). Fails with kInvalidArgument otherwise. Empty text gives "".
Result<std::string> base64url_decode(std::string_view text);

// "-----BEGIN <label>-----\n" + base64 in 64-character lines + "-----END <label>-----\n".
std::string pem_encode(std::string_view label, std::string_view der);

// Returns the DER inside the first PEM block labelled `expected_label`. Text before and
// after the block (such as "Bag Attributes" or a second block) is ignored, as are blank
// lines, indentation and "\r". The old labels OpenSSL also accepts are aliases:
// "NEW CERTIFICATE REQUEST" for "CERTIFICATE REQUEST", "X509 CERTIFICATE" for
// "CERTIFICATE". Fails with kInvalidArgument when there is no such block (the message
// names the label found instead, if any), when the block has headers (encrypted PEM), or
// when its body is not base64.
Result<std::string> pem_decode(std::string_view text, std::string_view expected_label);

// Upper-case hex without separators: "0A1B".
std::string hex_upper(std::string_view bytes);

// Accepts what an operator pastes or a client uploads and returns the DER: DER itself
// (first byte 0x30, returned unchanged), a PEM block labelled `label` (see pem_decode),
// or bare base64 (see base64_decode). Fails with kInvalidArgument on empty input or on
// text that is none of these. The result is not parsed: the caller's d2i does that.
Result<std::string> decode_any(std::string_view text_or_der, std::string_view label);

}  // namespace scepter::pki
