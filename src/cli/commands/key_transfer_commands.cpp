// crypto key export rsa|ec LABEL pem ... and crypto key import rsa|ec LABEL pem ...: key
// pairs in PEM, the public key in one block and the private key encrypted with a
// passphrase in another, at the terminal or in two files NAME.pub and NAME.prv.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/key_commands_common.h"
#include "cli/context.h"
#include "cli/questions.h"
#include "common/fs.h"
#include "pki/certificate.h"

namespace scepter::cli {
namespace {

// IOS's word for the key in the import prompts: "public General Purpose key".
std::string_view usage_words(ca::KeyUsage usage) {
  switch (usage) {
    case ca::KeyUsage::kGeneralPurpose:
      return "General Purpose";
    case ca::KeyUsage::kUsageKeys:
    case ca::KeyUsage::kSignature:
      // With usage-keys IOS asks for the signature pair first; scepterd keeps that one.
      return "Signature";
    case ca::KeyUsage::kEncryption:
      return "Encryption";
  }
  return "General Purpose";
}

// The two files of `url`: "nvram:mycs" -> nvram:mycs.pub and nvram:mycs.prv. A bare file
// system or a directory ("nvram:", "flash:keys/") gets the label as the file name, as in
// the guide's `crypto key export rsa mycs pem url nvram: 3des PASSWORD`.
struct KeyFiles {
  std::string pub_url, prv_url;    // as shown to the user
  std::string pub_path, prv_path;  // local paths
};

Result<KeyFiles> key_files(ca::Device& device, std::string url, const std::string& label) {
  ASSIGN_OR_RETURN(std::string path, device.resolve_local_url(url));
  std::error_code ec;
  if (url.ends_with(':') || url.ends_with('/') || std::filesystem::is_directory(path, ec)) {
    if (!url.ends_with(':') && !url.ends_with('/')) url += '/';
    url += label;
    path += "/" + label;
  }
  return KeyFiles{url + ".pub", url + ".prv", path + ".pub", path + ".prv"};
}

pki::PemCipher cipher_from_keyword(std::string_view keyword) {
  if (keyword == "des") return pki::PemCipher::kDes;
  if (keyword == "aes256") return pki::PemCipher::kAes256;
  return pki::PemCipher::kTripleDes;
}

CmdResult export_key(Context& ctx, const Args& a) {
  const KeyType type = type_from_keyword(a.choice("type"));
  const std::string label(a.word("label"));
  auto entry = ctx.device().keys().get(label);
  if (!entry || type_of(entry->key) != type) {
    return ctx.error(fmt::format("{} keypair '{}' does not exist.", type_name(type), label));
  }
  if (!entry->exportable) {
    return ctx.error(fmt::format("{} keypair '{}' is not exportable.", type_name(type), label));
  }
  auto private_pem =
      entry->key.to_traditional_pem(a.word("passphrase"), cipher_from_keyword(a.choice("cipher")));
  if (!private_pem.has_value()) {
    return ctx.error("The private key could not be encrypted: " + private_pem.error().message());
  }
  const std::string public_pem = entry->key.public_pem();
  const std::string header =
      fmt::format("% Key name: {}\n   Usage: {}\n", label, ca::key_usage_name(entry->usage));
  if (!a.has("url")) {
    ctx.print(header);
    ctx.print("Key data:\n");
    ctx.print(public_pem);
    ctx.print(*private_pem);
    return {};
  }
  auto files = key_files(ctx.device(), std::string(a.word("url")), label);
  if (!files.has_value()) return ctx.error(files.error().message());
  Status s = fs::write_atomic(files->pub_path, public_pem, 0644);
  if (s.ok()) s = fs::write_atomic(files->prv_path, *private_pem, 0600);
  if (!s.ok()) return ctx.error("Export failed: " + s.message());
  ctx.print(header);
  ctx.printf("Exporting public key...\nWriting file to {}\n", files->pub_url);
  ctx.printf("Exporting private key...\nWriting file to {}\n", files->prv_url);
  return {};
}

struct ImportRequest {
  KeyType type = KeyType::kRsa;
  std::string label;
  ca::KeyUsage usage = ca::KeyUsage::kGeneralPurpose;
  bool exportable = false;
  std::string passphrase;
  std::optional<std::string> url;
  // The key the label had when the command was typed (nullopt: none); the import is
  // stored only if that is still so (another session may have changed it meanwhile).
  std::optional<ca::KeyEntry> expected;
};

CmdResult import_failed(Context& ctx, std::string_view why) {
  return ctx.error(fmt::format("Key pair import failed: {}", why));
}

// The public half the user gave: a PUBLIC KEY block or a certificate.
Result<pki::Key> read_public(std::string_view text) {
  if (text.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
    ASSIGN_OR_RETURN(pki::Certificate cert, pki::Certificate::from_pem(text));
    return cert.public_key();
  }
  return pki::Key::from_pem(text);
}

CmdResult finish_import(Context& ctx, const ImportRequest& r, std::string_view public_text,
                        std::string_view private_text) {
  if (trim(private_text).empty()) return import_failed(ctx, "no private key was given.");
  auto key = pki::Key::from_pem(private_text, r.passphrase);
  if (!key.has_value()) {
    if (key.error().code() == Code::kPermissionDenied) {
      return import_failed(ctx, "the passphrase does not decrypt the private key.");
    }
    return import_failed(ctx, "the private key cannot be read.");
  }
  if (!key->has_private()) return import_failed(ctx, "no private key was given.");
  if (type_of(*key) != r.type) {
    return import_failed(ctx, fmt::format("the private key is not an {} key.", type_name(r.type)));
  }
  if (!trim(public_text).empty()) {
    auto pub = read_public(public_text);
    if (!pub.has_value())
      return import_failed(ctx, "the public key or certificate cannot be read.");
    if (!pub->equals_public(*key)) {
      return import_failed(ctx, "the private key does not match the public key or certificate.");
    }
  }
  Status s = check_ca_key_replaceable(ctx.device(), r.label, &*key);
  if (!s.ok()) return ctx.error(s.message());
  ca::KeyEntry entry{r.label, std::move(*key), r.usage, r.exportable, ctx.device().clock().now()};
  s = ctx.device().keys().put_if_unchanged(entry, r.expected);
  if (s.code() == Code::kAlreadyExists) {
    return import_failed(ctx, fmt::format("the keys named {} were changed by another session "
                                          "meanwhile; nothing was imported.",
                                          r.label));
  }
  if (!s.ok()) return import_failed(ctx, s.message());
  ctx.print("% Key pair import succeeded.\n");
  return {};
}

CmdResult start_import(Context& ctx, const ImportRequest& r) {
  if (r.url) {
    auto files = key_files(ctx.device(), *r.url, r.label);
    if (!files.has_value()) return ctx.error(files.error().message());
    auto pub = fs::read_file(files->pub_path);
    if (!pub.has_value()) return ctx.error(fmt::format("Error opening {}", files->pub_url));
    auto prv = fs::read_file(files->prv_path);
    if (!prv.has_value()) return ctx.error(fmt::format("Error opening {}", files->prv_url));
    return finish_import(ctx, r, *pub, *prv);
  }
  ctx.printf("% Enter PEM-formatted public {} key or certificate.\n", usage_words(r.usage));
  return ask_paste(ctx, {}, [r](Context& c, std::string public_text) {
    c.printf("% Enter PEM-formatted encrypted private {} key.\n", usage_words(r.usage));
    // A private key has no blank lines, but only "quit" ends it, as on IOS.
    return ask_paste(c, PasteQuestion{.blank_line_ends = false},
                     [r, public_text](Context& c2, std::string private_text) {
                       return finish_import(c2, r, public_text, private_text);
                     });
  });
}

CmdResult import_key(Context& ctx, const Args& a) {
  ImportRequest r;
  r.type = type_from_keyword(a.choice("type"));
  r.label = std::string(a.word("label"));
  r.usage = usage_from_keyword(a.choice("usage"));
  r.exportable = a.has("exportable");
  r.passphrase = std::string(a.word("passphrase"));
  if (a.has("url")) r.url = std::string(a.word("url"));
  Status s = ca::KeyStore::check_label(r.label);
  if (!s.ok()) return ctx.error(fmt::format("Invalid key label {}: {}.", r.label, s.message()));
  auto existing = ctx.device().keys().get(r.label);
  r.expected = existing;
  if (!existing) return start_import(ctx, r);
  ctx.printf("% You already have {} keys defined named {}.\n", type_name(type_of(existing->key)),
             r.label);
  return confirm(ctx, "% Do you really want to replace them?",
                 [r](Context& c) { return start_import(c, r); });
}

}  // namespace

void register_key_transfer_commands(CommandTable& t) {
  constexpr std::string_view kUrl =
      "nvram:NAME, flash:NAME or a local path; .pub and .prv are added";
  t.add(
      Node::kConfig,
      "crypto key export <rsa|ec>$type WORD$label pem <terminal|url WORD$url> "
      "<3des|des|aes256>$cipher WORD$passphrase",
      {kCryptoHelp, kKeyHelp, "Export keys", "Export RSA keys", "Export EC keys", "Key pair label",
       "File format is PEM", "Export keys to the terminal", "Export keys to two files", kUrl,
       "Encrypt the private key with 3DES", "Encrypt the private key with DES",
       "Encrypt the private key with AES-256", "Passphrase used to protect the private key"},
      export_key);
  t.add(
      Node::kConfig,
      "crypto key import <rsa|ec>$type WORD$label pem "
      "[<usage-keys|signature|encryption>$usage] <terminal|url WORD$url> [exportable] "
      "WORD$passphrase",
      {kCryptoHelp, kKeyHelp, "Import keys", "Import RSA keys", "Import EC keys", "Key pair label",
       "File format is PEM", "Usage keys (one key pair is kept)", "Signature key", "Encryption key",
       "Import keys from the terminal", "Import keys from two files", kUrl,
       "Allow the key to be exported", "Passphrase that decrypts the private key"},
      import_key);
}

}  // namespace scepter::cli
