// crypto pki import LABEL pkcs12 URL PASSPHRASE: restores a certificate server's key and
// CA certificate from its archive, as in the guide's "Restoring a Certificate Server from
// Certificate Server Backup Files" (copy LABEL.ser and LABEL.crl back first).
#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/cs_commands.h"
#include "cli/context.h"
#include "common/fs.h"
#include "pki/pkcs12.h"

namespace scepter::cli {
namespace {

CmdResult import_pkcs12(Context& ctx, const Args& a) {
  const std::string label(a.word("label"));
  if (Status s = ca::KeyStore::check_label(label); !s.ok()) return ctx.error(s.message());
  auto path = ctx.device().resolve_local_url(a.word("url"));
  if (!path.has_value()) return ctx.error(path.error().message());
  auto der = fs::read_file(*path);
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

}  // namespace

void register_pki_import_commands(CommandTable& t) {
  t.add(Node::kConfig, "crypto pki import WORD$label pkcs12 WORD$url WORD$passphrase",
        {"Encryption module", "Public Key components", "Import certificates or keys",
         "Trustpoint name", "PKCS12 file", "nvram:NAME, flash:NAME or a local path",
         "Passphrase of the PKCS12 file"},
        import_pkcs12);
}

}  // namespace scepter::cli
