#pragma once
// DNS look-ups for challenge validation, on c-ares: a channel of its own per look-up,
// asking the operator's resolver (or the system's), never waiting past a deadline. CNAMEs
// are followed by the resolver. Blocking; safe to call from several threads at once.

#include <chrono>
#include <string>
#include <vector>

#include "common/ip_prefix.h"
#include "common/status.h"

namespace scepter::acme {

struct DnsQuery {
  std::string name;      // without a trailing dot
  std::string resolver;  // "ADDR", "ADDR:PORT", "[ADDR]:PORT"; empty: /etc/resolv.conf
  std::chrono::steady_clock::time_point deadline;
};

// Whether `resolver` is a form DnsQuery takes (an IP literal, with a port in 1..65535).
bool valid_resolver(const std::string& resolver);

// The TXT records at the name, each record's character-strings joined into one value.
// Fails with kNotFound when the name does not exist or has no TXT record; kUnavailable when
// the resolver fails, refuses or does not answer before the deadline; kInvalidArgument for
// a bad resolver setting.
Result<std::vector<std::string>> lookup_txt(const DnsQuery& query);

// The name's AAAA then A addresses (both asked at once). Fails as lookup_txt does, with
// kNotFound when neither kind of record exists; a failure of one kind alone is ignored
// when the other answers.
Result<std::vector<IpAddress>> lookup_addresses(const DnsQuery& query);

}  // namespace scepter::acme
