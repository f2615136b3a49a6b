#include "acme/report.h"

#include "ca/certificate_server.h"

namespace scepter::acme {

Result<AcmeReport> acme_report(const ca::CertificateServer& server, TimePoint now,
                               std::size_t limit) {
  ASSIGN_OR_RETURN(std::shared_ptr<store::Store> store, server.acme_store());
  AcmeReport report;
  ASSIGN_OR_RETURN(report.accounts, store->count_acme(store::AcmeKind::kAccount));
  ASSIGN_OR_RETURN(report.orders, store->count_acme(store::AcmeKind::kOrder));
  ASSIGN_OR_RETURN(report.authorizations, store->count_acme(store::AcmeKind::kAuthorization));
  Status bad = ok_status();
  RETURN_IF_ERROR(store->for_each_acme(store::AcmeKind::kAccount, [&](const store::AcmeRecord& r) {
    auto a = account_from(r);
    if (!a.has_value()) {
      bad = a.error();
      return false;
    }
    report.account_list.push_back(std::move(*a));
    return report.account_list.size() < limit;
  }));
  RETURN_IF_ERROR(bad);
  RETURN_IF_ERROR(
      store->for_each_acme(store::AcmeKind::kAuthorization, [&](const store::AcmeRecord& r) {
        auto a = authorization_from(r);
        if (!a.has_value()) {
          bad = a.error();
          return false;
        }
        if (a->status == "pending" && now < a->expires) report.pending.push_back(std::move(*a));
        return report.pending.size() < limit;
      }));
  RETURN_IF_ERROR(bad);
  RETURN_IF_ERROR(store->for_each_acme(store::AcmeKind::kOrder, [&](const store::AcmeRecord& r) {
    auto o = order_from(r);
    if (!o.has_value()) {
      bad = o.error();
      return false;
    }
    std::vector<Authorization> mine;
    for (const std::string& id : o->authorizations) {
      auto rec = store->acme(store::AcmeKind::kAuthorization, id);
      if (!rec.has_value()) continue;  // expired and deleted: the order shows invalid
      auto a = authorization_from(*rec);
      if (a.has_value()) mine.push_back(std::move(*a));
    }
    if (mine.size() != o->authorizations.size() && o->status == "pending") o->status = "invalid";
    std::string status = order_status(*o, mine, now);
    report.order_list.emplace_back(std::move(*o), std::move(status));
    return report.order_list.size() < limit;
  }));
  RETURN_IF_ERROR(bad);
  return report;
}

}  // namespace scepter::acme
