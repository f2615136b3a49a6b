// crypto pki certificate chain NAME: the certificates a trustpoint holds, one line each, as
// the guide's "Working with Automatic CA Certificate Rollover" lists them, so the current
// certificates can be told from the rollover ones.
//
// IOS keeps these certificates in the running-config, as hex blocks under this command.
// Scepter keeps them in the trustpoint's store (and a certificate server's database), the
// one place each lives: the mode lists them, and refuses the hex entry and deletion
// subcommands with the commands that do that work instead (docs/decisions.md).
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/more_commands.h"
#include "cli/context.h"

namespace scepter::cli {
namespace {

struct ChainEntry {
  std::string_view kind;  // "certificate", "certificate ca", "certificate rollover ca", ...
  pki::Certificate cert;
};

// The trustpoint's certificates: its own, its CA's (and RA's), then the rollover ones.
// A root certificate server's trustpoint holds its own CA certificate and its shadow.
std::vector<ChainEntry> chain_entries(ca::Device& device, const std::string& name) {
  std::vector<ChainEntry> out;
  if (auto server = device.server(name); server && server->config().mode == ca::ServerMode::kRoot) {
    const ca::ServerInfo info = server->info();
    if (info.ca_certificate) out.push_back({"certificate ca", *info.ca_certificate});
    if (info.rollover_certificate) {
      out.push_back({"certificate rollover ca", *info.rollover_certificate});
    }
    return out;
  }
  const auto state = device.enrollment().state(name);
  if (!state) return out;
  if (state->certificate) out.push_back({"certificate", *state->certificate});
  if (state->encryption_certificate) out.push_back({"certificate", *state->encryption_certificate});
  auto add_ca = [&out](const ca::UpstreamCertificates& ca, bool rollover) {
    if (ca.ra_signer && ca.ra_encrypter && *ca.ra_signer == *ca.ra_encrypter) {
      out.push_back(
          {rollover ? "certificate rollover ra-general" : "certificate ra-general", *ca.ra_signer});
    } else {
      if (ca.ra_signer) {
        out.push_back(
            {rollover ? "certificate rollover ra-sign" : "certificate ra-sign", *ca.ra_signer});
      }
      if (ca.ra_encrypter) {
        out.push_back({rollover ? "certificate rollover ra-encrypt" : "certificate ra-encrypt",
                       *ca.ra_encrypter});
      }
    }
    for (const pki::Certificate& c : ca.ca_chain) {
      out.push_back({rollover ? "certificate rollover ca" : "certificate ca", c});
    }
  };
  if (state->ca) add_ca(*state->ca, false);
  if (state->rollover_certificate) {
    out.push_back({"certificate rollover", *state->rollover_certificate});
  }
  if (state->rollover_encryption_certificate) {
    out.push_back({"certificate rollover", *state->rollover_encryption_certificate});
  }
  if (state->next_ca) add_ca(*state->next_ca, true);
  return out;
}

CmdResult enter_chain(Context& ctx, const Args& a) {
  const std::string name(a.word("name"));
  if (!ctx.device().trustpoint(name)) {
    return ctx.error(fmt::format("Trustpoint {} does not exist.", name));
  }
  for (const ChainEntry& e : chain_entries(ctx.device(), name)) {
    ctx.printf("{} {}\n", e.kind, even_hex(e.cert.serial_hex()));
  }
  ctx.enter(Node::kCertChain, name);
  return {};
}

CmdResult refuse_entry(Context& ctx, const Args&) {
  return ctx.error(
      "Scepter keeps certificates in the trustpoint's store, not as hex in the configuration: "
      "use crypto pki authenticate for a CA certificate, crypto pki enroll or crypto pki import "
      "for the trustpoint's own.");
}

CmdResult refuse_removal(Context& ctx, const Args&) {
  return ctx.error(fmt::format(
      "Certificates are not removed one by one: no crypto pki trustpoint {} removes the "
      "trustpoint with its certificates.",
      ctx.target(Node::kCertChain)));
}

}  // namespace

void register_cert_chain_commands(CommandTable& t) {
  t.add(Node::kConfig, "crypto pki certificate chain WORD$name",
        {"Encryption module", "Public Key components", "Actions on certificates",
         "Certificate chain of a trustpoint", "Trustpoint name"},
        enter_chain);
  constexpr std::string_view kCert = "Certificate of the trustpoint";
  t.add(Node::kCertChain, "certificate [rollover] [ca|ra-general|ra-sign|ra-encrypt] WORD$serial",
        {kCert, "Rollover (shadow) certificate", "CA certificate", "RA general purpose certificate",
         "RA signature certificate", "RA encryption certificate", "Serial number (hex)"},
        refuse_entry);
  t.add(Node::kCertChain, "no certificate WORD$serial", {kNoHelp, kCert, "Serial number (hex)"},
        refuse_removal);
}

}  // namespace scepter::cli
