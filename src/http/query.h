#pragma once
// Request-target parsing for the HTTP server: splitting the path from the query,
// percent-decoding, and the query parameters. Free of Boost so the fuzzer and the
// SCEP layer can use it directly.
//
// Decoding is tolerant, because SCEP clients are: a '%' that is not followed by two
// hex digits is kept as it is, and '+' is kept as '+' (not turned into a space as HTML
// form decoding would), since clients send base64 with bare '+' characters. None of
// these functions fail; they accept any bytes. All are thread-safe (no shared state).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/percent.h"

namespace scepter::http {

// common/percent.h: "%XX" to its byte, '+' kept.
using ::scepter::percent_decode;

// One `name=value` pair of a query string, in the order received.
struct QueryParam {
  std::string name;       // percent-decoded
  std::string value;      // percent-decoded ('+' kept)
  std::string raw_value;  // exactly as received, for callers with their own decoding
};

// The parameters of a query string: a small multimap that keeps the order of arrival.
// Names match exactly (case-sensitive), as RFC 8894 spells them ("operation").
class QueryParams {
 public:
  QueryParams() = default;

  // Splits `query` (the text after '?', without the '?') on '&'. Empty pieces are
  // skipped; a piece without '=' is a name with an empty value.
  static QueryParams parse(std::string_view query);

  // The decoded value of the first parameter called `name`, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;
  // The undecoded value of the first parameter called `name`, or nullopt.
  std::optional<std::string_view> raw(std::string_view name) const;
  // Every decoded value of `name`, in order.
  std::vector<std::string_view> get_all(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name) != nullptr; }

  const std::vector<QueryParam>& items() const { return items_; }
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

 private:
  const QueryParam* find(std::string_view name) const;
  std::vector<QueryParam> items_;
};

// A request-target split into its parts.
struct Target {
  std::string path;   // percent-decoded, always starts with '/'
  std::string query;  // raw text after the first '?', empty if none
};

// Accepts origin-form ("/cgi-bin/pkiclient.exe?operation=GetCACaps") and absolute-form
// ("http://ca:80/cgi-bin/pkiclient.exe?..."), which some clients send; the scheme and
// authority of absolute-form are dropped. A target without a leading '/' gets one.
Target split_target(std::string_view target);

}  // namespace scepter::http
