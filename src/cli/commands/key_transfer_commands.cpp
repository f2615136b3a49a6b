// crypto key export rsa|ec LABEL pem ... and crypto key import rsa|ec LABEL pem ...: key
// pairs in PEM, the public key in one block and the private key encrypted with a
// passphrase in another, at the terminal or in two files NAME.pub and NAME.prv. Usage
// keys are two such pairs, the signature pair first; in files, the encryption pair is
// NAME-encr.pub and NAME-encr.prv.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/key_commands_common.h"
#include "cli/context.h"
#include "cli/questions.h"
#include "common/fs.h"
#include "common/parse.h"
#include "pki/certificate.h"
#include "pki/token.h"

namespace scepter::cli {
namespace {

// IOS's word for the key in the import prompts: "public General Purpose key". Usage keys
// name each of their pairs (`pair` is kSignature or kEncryption then).
std::string_view usage_words(ca::KeyUsage pair) {
  switch (pair) {
    case ca::KeyUsage::kGeneralPurpose:
      return "General Purpose";
    case ca::KeyUsage::kUsageKeys:
    case ca::KeyUsage::kSignature:
      return "Signature";
    case ca::KeyUsage::kEncryption:
      return "Encryption";
  }
  return "General Purpose";
}

// Where `url` puts a label's files, without the extension: "nvram:mycs" -> nvram:mycs. A
// bare file system or a directory ("nvram:", "flash:keys/") gets the label as the file
// name, as in the guide's `crypto key export rsa mycs pem url nvram: 3des PASSWORD`.
struct KeyFileBase {
  std::string url;   // as shown to the user
  std::string path;  // local path
};

Result<KeyFileBase> key_file_base(ca::Device& device, std::string url, const std::string& label) {
  ASSIGN_OR_RETURN(std::string path, device.resolve_local_url(url));
  std::error_code ec;
  if (url.ends_with(':') || url.ends_with('/') || std::filesystem::is_directory(path, ec)) {
    if (!url.ends_with(':') && !url.ends_with('/')) url += '/';
    url += label;
    path += "/" + label;
  }
  return KeyFileBase{std::move(url), std::move(path)};
}

// The two files of one pair: BASE.pub and BASE.prv, or with the encryption pair of usage
// keys BASE-encr.pub and BASE-encr.prv. The signature pair keeps the plain name, so a
// general-purpose export and the first pair of a usage-keys export use the same two
// files: either imports with or without `usage-keys`, and files written before scepterd
// kept two pairs still import.
struct KeyFiles {
  std::string pub_url, prv_url;    // as shown to the user
  std::string pub_path, prv_path;  // local paths
};

KeyFiles key_files(const KeyFileBase& base, bool encryption_pair) {
  const std::string_view suffix = encryption_pair ? "-encr" : "";
  return KeyFiles{
      fmt::format("{}{}.pub", base.url, suffix), fmt::format("{}{}.prv", base.url, suffix),
      fmt::format("{}{}.pub", base.path, suffix), fmt::format("{}{}.prv", base.path, suffix)};
}

pki::PemCipher cipher_from_keyword(std::string_view keyword) {
  if (keyword == "des") return pki::PemCipher::kDes;
  if (keyword == "aes256") return pki::PemCipher::kAes256;
  return pki::PemCipher::kTripleDes;
}

// One pair ready to be printed or written: its usage, its file names, its two PEMs.
struct ExportedPair {
  ca::KeyUsage usage;
  bool encryption_pair;  // the second pair of usage keys
  std::string public_pem;
  std::string private_pem;
};

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
  // Every private key is encrypted before anything is printed or written.
  std::vector<ExportedPair> pairs;
  for (const UsagePair& pair : usage_pairs(*entry)) {
    auto private_pem =
        pair.key.to_traditional_pem(a.word("passphrase"), cipher_from_keyword(a.choice("cipher")));
    if (!private_pem.has_value()) {
      return ctx.error("The private key could not be encrypted: " + private_pem.error().message());
    }
    pairs.push_back(
        {pair.usage,
         entry->usage == ca::KeyUsage::kUsageKeys && pair.usage == ca::KeyUsage::kEncryption,
         pair.key.public_pem(), std::move(*private_pem)});
  }
  auto header = [&label](const ExportedPair& pair) {
    return fmt::format("% Key name: {}\n   Usage: {}\n", label, ca::key_usage_name(pair.usage));
  };
  if (!a.has("url")) {
    for (const ExportedPair& pair : pairs) {
      ctx.print(header(pair));
      ctx.print("Key data:\n");
      ctx.print(pair.public_pem);
      ctx.print(pair.private_pem);
    }
    return {};
  }
  auto base = key_file_base(ctx.device(), std::string(a.word("url")), label);
  if (!base.has_value()) return ctx.error(base.error().message());
  for (const ExportedPair& pair : pairs) {
    const KeyFiles files = key_files(*base, pair.encryption_pair);
    Status s = fs::write_atomic(files.pub_path, pair.public_pem, 0644);
    if (s.ok()) s = fs::write_atomic(files.prv_path, pair.private_pem, 0600);
    if (!s.ok()) return ctx.error("Export failed: " + s.message());
  }
  for (const ExportedPair& pair : pairs) {
    const KeyFiles files = key_files(*base, pair.encryption_pair);
    ctx.print(header(pair));
    ctx.printf("Exporting public key...\nWriting file to {}\n", files.pub_url);
    ctx.printf("Exporting private key...\nWriting file to {}\n", files.prv_url);
  }
  return {};
}

struct ImportRequest {
  KeyType type = KeyType::kRsa;
  std::string label;
  ca::KeyUsage usage = ca::KeyUsage::kGeneralPurpose;
  bool exportable = false;
  std::string passphrase;
  std::optional<std::string> url;
  std::string device;  // `on NAME:`: written onto that token, never to leave it
  // The key the label had when the command was typed (nullopt: none); the import is
  // stored only if that is still so (another session may have changed it meanwhile).
  std::optional<ca::KeyEntry> expected;
  // Usage keys: the signature pair, once read. The encryption pair is read next, and both
  // are stored together, or neither.
  std::optional<pki::Key> signature_key;

  // The pair read now: the only one, or with usage keys the signature pair, then the
  // encryption pair.
  ca::KeyUsage pair() const {
    if (usage != ca::KeyUsage::kUsageKeys) return usage;
    return signature_key ? ca::KeyUsage::kEncryption : ca::KeyUsage::kSignature;
  }
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

// One pair: the private key, checked against the public key or certificate when one was
// given. Fails with kInvalidArgument and the reason, worded to follow "import failed: ".
Result<pki::Key> read_pair(const ImportRequest& r, std::string_view public_text,
                           std::string_view private_text) {
  if (trim_space(private_text).empty()) return fail(invalid_argument("no private key was given."));
  auto key = pki::Key::from_pem(private_text, r.passphrase);
  if (!key.has_value()) {
    if (key.error().code() == Code::kPermissionDenied) {
      return fail(invalid_argument("the passphrase does not decrypt the private key."));
    }
    return fail(invalid_argument("the private key cannot be read."));
  }
  if (!key->has_private()) return fail(invalid_argument("no private key was given."));
  if (type_of(*key) != r.type) {
    return fail(
        invalid_argument(fmt::format("the private key is not an {} key.", type_name(r.type))));
  }
  if (!trim_space(public_text).empty()) {
    auto pub = read_public(public_text);
    if (!pub.has_value()) {
      return fail(invalid_argument("the public key or certificate cannot be read."));
    }
    if (!pub->equals_public(*key)) {
      return fail(
          invalid_argument("the private key does not match the public key or certificate."));
    }
  }
  return key;
}

CmdResult read_next_pair(Context& ctx, ImportRequest r);

CmdResult on_pair(Context& ctx, ImportRequest r, std::string_view public_text,
                  std::string_view private_text) {
  auto key = read_pair(r, public_text, private_text);
  if (!key.has_value()) {
    if (r.usage != ca::KeyUsage::kUsageKeys) return import_failed(ctx, key.error().message());
    return import_failed(
        ctx, fmt::format("in the {} key pair, {}",
                         r.pair() == ca::KeyUsage::kSignature ? "signature" : "encryption",
                         key.error().message()));
  }
  if (r.usage == ca::KeyUsage::kUsageKeys && !r.signature_key) {
    r.signature_key = std::move(*key);
    return read_next_pair(ctx, std::move(r));
  }
  ca::KeyEntry entry{r.label, std::move(*key), r.usage, r.exportable, ctx.device().clock().now()};
  if (r.signature_key) {
    entry.encryption_key = std::move(entry.key);
    entry.key = std::move(*r.signature_key);
  }
  // A certificate server's CA certificate was signed with the (signature) key.
  Status s = check_ca_key_replaceable(ctx.device(), r.label, &entry.key);
  if (!s.ok()) return ctx.error(s.message());
  std::shared_ptr<pki::Token> token;
  if (!r.device.empty()) {
    // Written onto the token; from here on the key is the token's, and the copy in this
    // process goes with `entry`'s old key.
    auto opened = ctx.device().tokens().open(r.device);
    if (!opened.has_value()) return import_failed(ctx, opened.error().message() + ".");
    token = std::move(*opened);
    auto on_token = token->import_rsa(r.label, entry.key);
    if (!on_token.has_value()) return import_failed(ctx, on_token.error().message() + ".");
    entry.key = std::move(*on_token);
    entry.device = r.device;
  }
  s = ctx.device().keys().put_if_unchanged(entry, r.expected);
  if (!s.ok() && token) (void)token->remove(r.label);  // not recorded: not kept either
  if (s.code() == Code::kAlreadyExists) {
    return import_failed(ctx, fmt::format("the keys named {} were changed by another session "
                                          "meanwhile; nothing was imported.",
                                          r.label));
  }
  if (!s.ok()) return import_failed(ctx, s.message());
  ctx.print("% Key pair import succeeded.\n");
  return {};
}

// Reads the pair r.pair() from its two files, or asks for it at the terminal.
CmdResult read_next_pair(Context& ctx, ImportRequest r) {
  if (r.url) {
    auto base = key_file_base(ctx.device(), *r.url, r.label);
    if (!base.has_value()) return ctx.error(base.error().message());
    const KeyFiles files = key_files(*base, r.signature_key.has_value());
    auto pub = fs::read_file(files.pub_path);
    if (!pub.has_value()) return ctx.error(fmt::format("Error opening {}", files.pub_url));
    auto prv = fs::read_file(files.prv_path);
    if (!prv.has_value()) return ctx.error(fmt::format("Error opening {}", files.prv_url));
    return on_pair(ctx, std::move(r), *pub, *prv);
  }
  ctx.printf("% Enter PEM-formatted public {} key or certificate.\n", usage_words(r.pair()));
  return ask_paste(ctx, {}, [r](Context& c, std::string public_text) {
    c.printf("% Enter PEM-formatted encrypted private {} key.\n", usage_words(r.pair()));
    // A private key has no blank lines, but only "quit" ends it, as on IOS.
    return ask_paste(c, PasteQuestion{.blank_line_ends = false},
                     [r, public_text](Context& c2, std::string private_text) {
                       return on_pair(c2, r, public_text, private_text);
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
  if (a.has("device")) {
    r.device = strip_device_colon(a.word("device"));
    if (!ctx.device().tokens().get(r.device)) {
      return ctx.error(fmt::format("No token named {} is configured (crypto pki token {} ...).",
                                   r.device, r.device));
    }
    if (r.type != KeyType::kRsa) return ctx.error("Keys on a token are RSA keys.");
    if (r.exportable) return ctx.error("Keys on a token are never exportable.");
    if (r.usage != ca::KeyUsage::kGeneralPurpose) {
      return ctx.error("Keys on a token are one general-purpose pair.");
    }
  }
  if (existing && (!existing->device.empty() || !r.device.empty())) {
    // A token keeps one pair per label: the old pair goes first, by the operator's hand.
    return ctx.error(fmt::format(
        "You already have keys named {0}{1}; remove them first (crypto key zeroize rsa {0}).",
        r.label, existing->device.empty() ? "" : " on token " + existing->device));
  }
  if (!existing) return read_next_pair(ctx, r);
  ctx.printf("% You already have {} keys defined named {}.\n", type_name(type_of(existing->key)),
             r.label);
  return confirm(ctx, "% Do you really want to replace them?",
                 [r](Context& c) { return read_next_pair(c, r); });
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
      "[on WORD$device] WORD$passphrase",
      {kCryptoHelp, kKeyHelp, "Import keys", "Import RSA keys", "Import EC keys", "Key pair label",
       "File format is PEM", "Usage keys: a signature and an encryption key pair", "Signature key",
       "Encryption key", "Import keys from the terminal", "Import keys from two files", kUrl,
       "Allow the key to be exported", "Write the keys onto a token",
       "Token name followed by a colon (token0:)", "Passphrase that decrypts the private key"},
      import_key);
}

}  // namespace scepter::cli
