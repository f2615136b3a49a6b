#pragma once
// Percent-encoding (RFC 3986 §2.1), the one decoder and encoder of the project: query
// strings of HTTP requests, and the user and password parts of database URLs.

#include <string>
#include <string_view>

namespace scepter {

// Replaces each "%XX" (hex, either case) with its byte. Tolerant, because SCEP clients
// are: a '%' not followed by two hex digits stays as it is, and '+' stays '+' (not a
// space as HTML form decoding would have it). Never fails; any bytes are accepted.
std::string percent_decode(std::string_view in);

// Every byte but the unreserved ones (ALPHA, DIGIT, '-', '.', '_', '~') as "%XX" (upper
// case): safe anywhere in a URL, the user information included.
std::string percent_encode(std::string_view in);

}  // namespace scepter
