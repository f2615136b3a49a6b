// crypto pki import LABEL pkcs12 URL PASSPHRASE: restores a certificate server's key and
// CA certificate from its archive, as in the guide's "Restoring a Certificate Server from
// Certificate Server Backup Files" (copy LABEL.ser and LABEL.crl back first); and
// crypto pki export LABEL pkcs12 URL PASSPHRASE, the manual backup of an exportable key
// with its certificate.
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/cs_commands.h"
#include "cli/commands/destination.h"
#include "cli/context.h"
#include "common/fs.h"
#include "files/remote.h"
#include "pki/pkcs12.h"

namespace scepter::cli {
namespace {

CmdResult import_pkcs12(Context& ctx, const Args& a) {
  const std::string label(a.word("label"));
  if (Status s = ca::KeyStore::check_label(label); !s.ok()) return ctx.error(s.message());
  auto der = ctx.device().read_url(a.word("url"));
  if (!der.has_value()) return ctx.error(der.error().message());
  auto p12 = pki::parse_pkcs12(*der, a.word("passphrase"));
  if (!p12.has_value()) {
    return ctx.error(p12.error().code() == Code::kPermissionDenied
                         ? "Wrong passphrase for the PKCS12 file."
                         : "Not a PKCS12 file: " + p12.error().message());
  }
  if (auto server = ctx.device().server(label);
      server && server->state() == ca::ServerState::kEnabled) {
    return ctx.error(fmt::format("Certificate server {} is enabled; shut it down first.", label));
  }
  auto key_exists = [&] {
    return ctx.error(
        fmt::format("A key named {} already exists; remove it first with "
                    "\"crypto key zeroize rsa {}\".",
                    label, label));
  };
  if (ctx.device().keys().get(label).has_value()) return key_exists();
  ca::KeyEntry entry{label, p12->key, ca::KeyUsage::kGeneralPurpose, false,
                     ctx.device().clock().now()};
  // Only if the label is still free: another session may have made the key meanwhile.
  Status s = ctx.device().keys().put_if_unchanged(entry, std::nullopt);
  if (s.code() == Code::kAlreadyExists) return key_exists();
  if (!s.ok()) return ctx.error(s.message());
  if (p12->cert.is_ca()) {
    // The trustpoint copy of the CA certificate (the database holds the original).
    const std::string tp = ctx.device().nvram_dir() + "/" + label + "#1CA.cer";
    if (Status s = fs::write_atomic(tp, p12->cert.der()); !s.ok()) {
      return ctx.error(s.message());
    }
  }
  ctx.print("CRYPTO_PKI: Imported PKCS12 file successfully.\n");
  return {};
}

// What `crypto pki export LABEL pkcs12` writes: a certificate server's own certificate and
// key (the CA's, a subordinate's or an RA's), or a trustpoint's; with the chain above.
struct Exported {
  pki::Certificate cert;
  ca::KeyEntry key;
  std::vector<pki::Certificate> chain;
};

Result<Exported> exported(ca::Device& device, const std::string& label) {
  std::optional<ca::TrustpointConfig> tp = device.trustpoint(label);
  auto server = device.server(label);
  if (!tp && !server) return fail(not_found(fmt::format("Trustpoint {} does not exist.", label)));
  std::optional<pki::Certificate> cert;
  std::string key_label = label;
  std::vector<pki::Certificate> chain;
  auto state = device.enrollment().state(label);
  if (server) {
    cert = server->info().ca_certificate;
  } else if (state) {
    cert = state->certificate;
    key_label = tp->rsakeypair.empty() ? device.hostname() : tp->rsakeypair;
  }
  if (state && state->ca) chain = state->ca->ca_chain;
  if (!cert) {
    return fail(not_found(fmt::format("Trustpoint {} has no certificate to export.", label)));
  }
  std::optional<ca::KeyEntry> key = device.keys().get(key_label);
  auto cert_key = cert->public_key();
  if (!key || !cert_key.has_value() || !key->key.equals_public(*cert_key)) {
    return fail(not_found(fmt::format("The key {} of trustpoint {} is gone.", key_label, label)));
  }
  if (!key->exportable) {
    return fail(permission_denied(
        fmt::format("The key {} is not exportable: only a key generated or imported with "
                    "\"exportable\" leaves the device.",
                    key_label)));
  }
  if (key->encryption_key) {
    return fail(invalid_argument(fmt::format(
        "The key {} is usage keys; a PKCS12 file holds one key pair and its certificate.",
        key_label)));
  }
  return Exported{*cert, *key, std::move(chain)};
}

CmdResult export_pkcs12(Context& ctx, const Args& a) {
  const std::string label(a.word("label"));
  auto what = exported(ctx.device(), label);
  if (!what.has_value()) return ctx.error(what.error().message());
  auto shared = std::make_shared<const Exported>(std::move(*what));
  return ask_destination(ctx, a.word("url"), label, nullptr,
                         [shared, label, passphrase = std::string(a.word("passphrase"))](
                             Context& c, const DestinationFile& dst) -> CmdResult {
                           auto p12 = pki::make_pkcs12(shared->cert, shared->key.key, passphrase,
                                                       label, shared->chain);
                           if (!p12.has_value()) return c.error(p12.error().message());
                           c.printf("Writing pkcs12 file to {}\n", files::redact_url(dst.url));
                           if (Status s = write_destination(c, dst, *p12, 0600); !s.ok()) {
                             return c.error("Exporting PKCS12 failed: " + s.message());
                           }
                           c.print("CRYPTO_PKI: Exported PKCS12 file successfully.\n");
                           return {};
                         });
}

}  // namespace

void register_pki_import_commands(CommandTable& t) {
  t.add(Node::kConfig, "crypto pki import WORD$label pkcs12 WORD$url WORD$passphrase",
        {"Encryption module", "Public Key components", "Import certificates or keys",
         "Trustpoint name", "PKCS12 file", "nvram:NAME, flash:NAME, a local path or a URL",
         "Passphrase of the PKCS12 file"},
        import_pkcs12);
  t.add(Node::kConfig, "crypto pki export WORD$label pkcs12 WORD$url WORD$passphrase",
        {"Encryption module", "Public Key components", "Export certificates or keys",
         "Trustpoint name", "PKCS12 file", "nvram:[NAME], flash:[NAME], a local path or a URL",
         "Passphrase that protects the PKCS12 file"},
        export_pkcs12);
}

}  // namespace scepter::cli
