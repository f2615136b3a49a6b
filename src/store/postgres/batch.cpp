#include "store/postgres/batch.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "common/parse.h"
#include "store/acme_check.h"
#include "store/postgres/rows.h"
#include "store/postgres/schema.h"

namespace scepter::store::pg {
namespace {

// An op whose outcome is its statement's, as a step; nullopt for the ops that look at
// the rows they touched (run by apply_one()).
Result<std::optional<Step>> step_of(const WriteBatch::Op& op, const std::string& sender) {
  using Kind = WriteBatch::Op::Kind;
  switch (op.kind) {
    case Kind::kPutCert:
      return put_certificate_step(op.cert);
    case Kind::kPutRequest:
      return put_request_step(op.request);
    case Kind::kDeleteRequest:
      return delete_request_step(op.request_id);
    case Kind::kPutMeta:
      return put_meta_step(op.key, op.value);
    case Kind::kDeleteMeta:
      return delete_meta_step(op.key);
    case Kind::kNotify:
      return notify_step(sender + " " + op.key);
    case Kind::kDeleteAcme:
      return delete_acme_step(op.acme.kind, op.acme.id);
    case Kind::kPutAcme:
      // An insert's outcome is its statement's; a compare-and-set looks at the row.
      if (op.acme.version == 0) return insert_acme_step(op.acme);
      if (Status s = check_acme_record(op.acme); !s.ok()) return fail(std::move(s));
      break;
    case Kind::kRevoke:
    case Kind::kUnrevoke:
    case Kind::kDeleteMetaIf:
    case Kind::kExpectRequestState:
      break;
  }
  return std::optional<Step>();
}

Status apply_one(Conn& c, const WriteBatch::Op& op) {
  using Kind = WriteBatch::Op::Kind;
  switch (op.kind) {
    case Kind::kRevoke:
      return revoke(c, op.serial, op.at, op.reason);
    case Kind::kUnrevoke:
      return unrevoke(c, op.serial);
    case Kind::kDeleteMetaIf:
      return delete_meta_if(c, op.key, op.value);
    case Kind::kExpectRequestState:
      return expect_request_state(c, op.request_id, op.request.state);
    case Kind::kPutAcme:
      return update_acme(c, op.acme);
    default:
      CA_ASSERT(false, "step_of() covers the other ops");
      return ok_status();
  }
}

void add_raises(std::vector<Step>& steps, const Floors& raise) {
  if (raise.serial) steps.push_back(raise_counter_step(kSerialCounter, *raise.serial));
  if (raise.request) steps.push_back(raise_counter_step(kRequestCounter, *raise.request));
}

}  // namespace

Floors floors_of(const WriteBatch& batch) {
  using Kind = WriteBatch::Op::Kind;
  Floors f;
  auto raise = [](std::optional<std::int64_t>& floor, std::int64_t v) {
    floor = std::max(floor.value_or(v), v);
  };
  for (const WriteBatch::Op& op : batch.ops()) {
    if (op.kind == Kind::kPutCert && op.cert.serial <= kMaxSerial) {
      raise(f.serial, static_cast<std::int64_t>(op.cert.serial));
    } else if (op.kind == Kind::kPutRequest) {
      raise(f.request, op.request.id);
    } else if (op.kind == Kind::kPutMeta && op.key == "last_serial") {
      if (auto v = parse_decimal<std::int64_t>(op.value)) raise(f.serial, *v);
    } else if (op.kind == Kind::kPutMeta && op.key == "last_request_id") {
      if (auto v = parse_decimal<std::int64_t>(op.value)) raise(f.request, *v);
    }
  }
  return f;
}

Result<std::optional<std::vector<Step>>> steps_of(const WriteBatch& batch,
                                                  const std::string& sender, const Floors& raise) {
  std::vector<Step> steps;
  steps.reserve(batch.ops().size() + 2);
  for (const WriteBatch::Op& op : batch.ops()) {
    ASSIGN_OR_RETURN(std::optional<Step> step, step_of(op, sender));
    if (!step) return std::optional<std::vector<Step>>();
    steps.push_back(std::move(*step));
  }
  add_raises(steps, raise);
  return std::optional(std::move(steps));
}

Status apply(Conn& c, const WriteBatch& batch, const std::string& sender, const Floors& raise) {
  for (const WriteBatch::Op& op : batch.ops()) {
    ASSIGN_OR_RETURN(std::optional<Step> step, step_of(op, sender));
    RETURN_IF_ERROR(step ? c.run(*step) : apply_one(c, op));
  }
  std::vector<Step> raises;
  add_raises(raises, raise);
  for (const Step& step : raises) RETURN_IF_ERROR(c.run(step));
  return ok_status();
}

}  // namespace scepter::store::pg
