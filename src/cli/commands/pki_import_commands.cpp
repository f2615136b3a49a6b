// crypto pki import LABEL pkcs12 URL PASSPHRASE and crypto pki import LABEL pem ...:
// restore a certificate server's key and CA certificate from its archive, as in the guide's
// "Restoring a Certificate Server from Certificate Server Backup Files" (copy LABEL.ser and
// LABEL.crl back first); and crypto pki export LABEL pkcs12 URL PASSPHRASE, the manual backup of an
// exportable key with its certificate.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/cs_commands.h"
#include "cli/commands/destination.h"
#include "cli/context.h"
#include "cli/questions.h"
#include "common/fs.h"
#include "common/parse.h"
#include "files/remote.h"
#include "pki/pkcs12.h"

namespace scepter::cli {
namespace {

// Installs a certificate server's (or a trustpoint's) key pair from an import, under
// `label`: refused while the server is enabled or when the label's key exists. A CA
// certificate whose key this is becomes the trustpoint copy (nvram:LABEL#1CA.cer), which
// a restored server finds at `no shutdown`.
CmdResult install_import(Context& ctx, const std::string& label, const pki::Certificate& cert,
                         pki::Key key, std::optional<pki::Key> encryption_key,
                         std::string_view done) {
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
  const bool ca_key = cert.is_ca();
  ca::KeyEntry entry{label,
                     std::move(key),
                     encryption_key ? ca::KeyUsage::kUsageKeys : ca::KeyUsage::kGeneralPurpose,
                     false,
                     ctx.device().clock().now(),
                     std::move(encryption_key)};
  // Only if the label is still free: another session may have made the key meanwhile.
  Status s = ctx.device().keys().put_if_unchanged(entry, std::nullopt);
  if (s.code() == Code::kAlreadyExists) return key_exists();
  if (!s.ok()) return ctx.error(s.message());
  if (ca_key) {
    // The trustpoint copy of the CA certificate (the database holds the original).
    const std::string tp = ctx.device().nvram_dir() + "/" + label + "#1CA.cer";
    if (Status s = fs::write_atomic(tp, cert.der()); !s.ok()) return ctx.error(s.message());
  }
  ctx.print(done);
  return {};
}

CmdResult import_pkcs12(Context& ctx, const Args& a) {
  const std::string label(a.word("label"));
  if (Status s = ca::KeyStore::check_label(label); !s.ok()) return ctx.error(s.message());
  return ask_file_name(
      ctx, "Source filename", a.word("url"),
      [label, passphrase = std::string(a.word("passphrase"))](Context& c, const std::string& url) {
        auto der = c.device().read_url(url);
        if (!der.has_value()) return c.error(der.error().message());
        auto p12 = pki::parse_pkcs12(*der, passphrase);
        if (!p12.has_value()) {
          return c.error(p12.error().code() == Code::kPermissionDenied
                             ? "Wrong passphrase for the PKCS12 file."
                             : "Not a PKCS12 file: " + p12.error().message());
        }
        return install_import(c, label, p12->cert, std::move(p12->key), std::nullopt,
                              "CRYPTO_PKI: Imported PKCS12 file successfully.\n");
      });
}

// crypto pki import LABEL pem [usage-keys] {terminal | url URL} PASSPHRASE: what the
// guide's second restore example pastes from a PEM archive (the CA certificate, the
// encrypted private key, the certificate again; with usage-keys, an encryption pair that
// may be skipped with "quit").
struct PemImport {
  std::string label;
  std::string passphrase;
  bool usage_keys = false;
  std::string ca_text, key_text, cert_text, encryption_key_text, encryption_cert_text;
};

CmdResult pem_failed(Context& ctx, std::string_view why) {
  return ctx.error(fmt::format("PEM files import failed: {}", why));
}

Result<pki::Key> pem_key(const PemImport& r, std::string_view text, std::string_view which) {
  auto key = pki::Key::from_pem(text, r.passphrase);
  if (!key.has_value() || !key->has_private()) {
    return fail(invalid_argument(
        key.has_value() || key.error().code() != Code::kPermissionDenied
            ? fmt::format("the {} private key cannot be read.", which)
            : fmt::format("the passphrase does not decrypt the {} private key.", which)));
  }
  return key;
}

CmdResult finish_pem(Context& ctx, const PemImport& r) {
  auto ca_cert = pki::Certificate::from_pem(r.ca_text);
  if (!ca_cert.has_value()) return pem_failed(ctx, "the CA certificate cannot be read.");
  auto key = pem_key(r, r.key_text, r.usage_keys ? "signature" : "general purpose");
  if (!key.has_value()) return pem_failed(ctx, key.error().message());
  // The certificate of the key: the one given again, else the CA certificate.
  pki::Certificate cert = *ca_cert;
  if (!trim_space(r.cert_text).empty()) {
    auto own = pki::Certificate::from_pem(r.cert_text);
    if (!own.has_value()) return pem_failed(ctx, "the certificate cannot be read.");
    cert = std::move(*own);
  }
  auto cert_key = cert.public_key();
  if (!cert_key.has_value() || !key->equals_public(*cert_key)) {
    return pem_failed(ctx, "the private key does not belong to the certificate.");
  }
  if (cert.der() != ca_cert->der()) {
    return pem_failed(ctx,
                      "the certificate is not the CA certificate: only a certificate "
                      "server's own key pair is imported this way.");
  }
  std::optional<pki::Key> encryption;
  if (!trim_space(r.encryption_key_text).empty()) {
    auto enc = pem_key(r, r.encryption_key_text, "encryption");
    if (!enc.has_value()) return pem_failed(ctx, enc.error().message());
    encryption = std::move(*enc);
  }
  return install_import(ctx, r.label, cert, std::move(*key), std::move(encryption),
                        "% PEM files import succeeded.\n");
}

// The pastes, one after the other, as IOS asks for them.
CmdResult paste_pem(Context& ctx, std::shared_ptr<PemImport> r) {
  const std::string_view pair = r->usage_keys ? "SIGNATURE" : "General Purpose";
  ctx.print("% Enter PEM-formatted CA certificate.\n");
  return ask_paste(ctx, {}, [r, pair](Context& c, std::string text) {
    r->ca_text = std::move(text);
    c.printf("% Enter PEM-formatted encrypted private {} key.\n", pair);
    return ask_paste(
        c, PasteQuestion{.blank_line_ends = false}, [r, pair](Context& c, std::string text) {
          r->key_text = std::move(text);
          c.printf("% Enter PEM-formatted {} certificate.\n", pair);
          return ask_paste(c, {}, [r](Context& c, std::string text) {
            r->cert_text = std::move(text);
            if (!r->usage_keys) return finish_pem(c, *r);
            c.print("% Enter PEM-formatted encrypted private ENCRYPTION key.\n");
            return ask_paste(c, PasteQuestion{.blank_line_ends = false},
                             [r](Context& c, std::string text) {
                               r->encryption_key_text = std::move(text);
                               if (trim_space(r->encryption_key_text).empty())
                                 return finish_pem(c, *r);
                               c.print("% Enter PEM-formatted ENCRYPTION certificate.\n");
                               return ask_paste(c, {}, [r](Context& c, std::string text) {
                                 r->encryption_cert_text = std::move(text);
                                 return finish_pem(c, *r);
                               });
                             });
          });
        });
  });
}

// From files: URL.ca, URL.prv and URL.crt as IOS writes them (usage keys: URL-sign.prv,
// URL-sign.crt, and URL-encr.prv/.crt when there), or one file holding the certificate
// and the encrypted key, as scepterd's `database archive pem` writes LABEL.pem.
CmdResult read_pem_files(Context& ctx, std::shared_ptr<PemImport> r, const std::string& url) {
  ca::Device& device = ctx.device();
  if (auto whole = device.read_url(url); whole.has_value()) {
    if (whole->find("-----BEGIN CERTIFICATE-----") != std::string::npos &&
        whole->find("PRIVATE KEY-----") != std::string::npos) {
      r->ca_text = r->key_text = *whole;
      return finish_pem(ctx, *r);
    }
  }
  auto need = [&](const std::string& name, std::string& into) -> bool {
    auto text = device.read_url(name);
    if (!text.has_value()) {
      ctx.printf("%Error opening {} ({})\n", files::redact_url(name), text.error().message());
      return false;
    }
    into = std::move(*text);
    return true;
  };
  const std::string pair = r->usage_keys ? "-sign" : "";
  if (!need(url + ".ca", r->ca_text) || !need(url + pair + ".prv", r->key_text) ||
      !need(url + pair + ".crt", r->cert_text)) {
    return CmdResult::printed_failure();
  }
  if (r->usage_keys) {
    if (auto enc = device.read_url(url + "-encr.prv"); enc.has_value()) {
      r->encryption_key_text = std::move(*enc);
    }
  }
  return finish_pem(ctx, *r);
}

CmdResult import_pem(Context& ctx, const Args& a) {
  auto r = std::make_shared<PemImport>();
  r->label = std::string(a.word("label"));
  if (Status s = ca::KeyStore::check_label(r->label); !s.ok()) return ctx.error(s.message());
  r->passphrase = std::string(a.word("passphrase"));
  r->usage_keys = a.has("usage-keys");
  if (a.has("url")) return read_pem_files(ctx, r, std::string(a.word("url")));
  return paste_pem(ctx, r);
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
    key_label = tp->rsakeypair.empty() ? device.fqdn() : tp->rsakeypair;
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
  t.add(Node::kConfig,
        "crypto pki import WORD$label pem [usage-keys] <terminal|url WORD$url> WORD$passphrase",
        {"Encryption module", "Public Key components", "Import certificates or keys",
         "Trustpoint name", "PEM files", "The key pairs are usage keys",
         "Paste the certificates and keys at the terminal",
         "Read LABEL.ca, .prv and .crt (or a PEM archive) from a URL",
         "nvram:NAME, flash:NAME, a local path or a URL",
         "Passphrase that decrypts the private keys"},
        import_pem);
}

}  // namespace scepter::cli
