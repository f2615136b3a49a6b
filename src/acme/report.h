#pragma once
// What `show crypto pki server LABEL acme` shows: a certificate server's ACME accounts,
// orders and pending authorizations, read from its database.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "acme/objects.h"
#include "common/status.h"

namespace scepter::ca {
class CertificateServer;
}

namespace scepter::acme {

struct AcmeReport {
  std::uint64_t accounts = 0;  // all of them
  std::uint64_t orders = 0;
  std::uint64_t authorizations = 0;
  std::vector<Account> account_list;  // the first `limit`, by id
  // The first `limit` orders by id, each with its status as of `now` (order_status).
  std::vector<std::pair<Order, std::string>> order_list;
  std::vector<Authorization> pending;  // pending authorizations, the first `limit`
};

// kUnavailable when the server is not enabled or its database cannot be read.
Result<AcmeReport> acme_report(const ca::CertificateServer& server, TimePoint now,
                               std::size_t limit);

}  // namespace scepter::acme
