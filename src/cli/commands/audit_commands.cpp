// show audit [last N] and verify audit (exec): the audit trail of ca/audit_log.h.
#include <string>

#include <fmt/format.h>

#include "ca/audit_log.h"
#include "ca/device.h"
#include "cli/commands/more_commands.h"
#include "cli/context.h"

namespace scepter::cli {
namespace {

constexpr std::int64_t kDefaultLast = 50;

// One record per line: "   7 2026-12-06T09:30:00Z command shell uid 0: LINE (ok)".
CmdResult show_audit(Context& ctx, const Args& a) {
  const auto count = static_cast<std::size_t>(a.integer("count", kDefaultLast));
  auto records = ca::read_audit(ctx.device().audit_log_path(), a.has("all") ? 0 : count);
  if (!records.has_value()) return ctx.error(records.error().message());
  for (const ca::AuditRecord& r : *records) {
    std::string who = r.actor;
    if (!r.ca.empty()) who += fmt::format(" [{}]", r.ca);
    ctx.printf("{:>6} {} {} {}: {} ({})\n", r.seq, r.time, r.event, who, r.detail, r.outcome);
  }
  return {};
}

CmdResult verify_audit(Context& ctx, const Args&) {
  auto v = ca::verify_audit(ctx.device().audit_log_path(), ctx.device().audit_signers());
  if (!v.has_value()) return ctx.error(v.error().message());
  ctx.printf("Audit log: {}\n", ctx.device().audit_log_path());
  ctx.printf("Records verified: {} ({} checkpoints)\n", v->records, v->checkpoints);
  for (const std::string& signer : v->signers) ctx.printf("Signed by: {}\n", signer);
  ctx.printf("Records after the last checkpoint: {}\n", v->unsigned_tail);
  if (v->bad_line) {
    return ctx.error(
        fmt::format("Audit log verification FAILED at line {}: {}.", *v->bad_line, v->problem));
  }
  ctx.print("Audit log verified: the chain is whole and every checkpoint's signature is good.\n");
  return {};
}

}  // namespace

void register_audit_commands(CommandTable& t) {
  t.add(Node::kExec, "show audit [last (1-100000)$count]",
        {"Show running system information", "The audit log (the last 50 records)",
         "The last records", "How many"},
        show_audit);
  t.add(Node::kExec, "show audit all",
        {"Show running system information", "The audit log (the last 50 records)", "Every record"},
        show_audit);
  t.add(Node::kExec, "verify audit",
        {"Verify a file", "Check the audit log's hash chain and signed checkpoints"}, verify_audit);
}

}  // namespace scepter::cli
