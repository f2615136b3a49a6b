// crypto key generate rsa|ec, crypto key zeroize, show crypto key mypubkey (the export
// and import commands are in key_transfer_commands.cpp).
#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/key_commands_common.h"
#include "cli/commands/more_commands.h"
#include "cli/context.h"
#include "cli/questions.h"
#include "common/parse.h"

namespace scepter::cli {
namespace {

constexpr int kMinModulus = 360;
constexpr int kMaxModulus = 4096;
constexpr int kDefaultModulus = 2048;
// OpenSSL 3 refuses to generate RSA keys below this size, though IOS accepts 360.
constexpr int kOpensslMinModulus = 512;

struct GenerateRequest {
  KeyType type = KeyType::kRsa;
  std::string label;
  ca::KeyUsage usage = ca::KeyUsage::kGeneralPurpose;
  bool exportable = false;
  int bits = 0;  // 0: ask (RSA without `modulus`), for each pair of usage keys
  // Usage keys: the signature pair, once made. The encryption pair is made next, and
  // both are stored together, or neither.
  std::optional<pki::Key> signature_key;
  // The key the label had when the command was typed (nullopt: none). The new key is
  // stored only if that is still so: of two sessions generating the same label at once,
  // the first to finish wins and the other is told.
  std::optional<ca::KeyEntry> expected;
  // `on NAME:`: the token that makes and keeps the key (empty: the key store).
  std::string device;
};

// "General Purpose Keys", as the modulus question names them.
std::string_view usage_plural(ca::KeyUsage usage) {
  switch (usage) {
    case ca::KeyUsage::kGeneralPurpose:
      return "General Purpose Keys";
    case ca::KeyUsage::kUsageKeys:
      return "Usage Keys";
    case ca::KeyUsage::kSignature:
      return "Signature Keys";
    case ca::KeyUsage::kEncryption:
      return "Encryption Keys";
  }
  return "General Purpose Keys";
}

CmdResult refuse_small_modulus(Context& ctx, int bits) {
  return ctx.error(fmt::format(
      "A modulus of {} bits is too small: the crypto library needs at least {} bits. Choose a "
      "modulus from {} to {}.",
      bits, kOpensslMinModulus, kOpensslMinModulus, kMaxModulus));
}

CmdResult start_pair(Context& ctx, GenerateRequest r);

// Deletes the pair `label` from the token `device`.
Status forget_on_token(Context& ctx, const std::string& device, const std::string& label) {
  ASSIGN_OR_RETURN(std::shared_ptr<pki::Token> token, ctx.device().tokens().open(device));
  return token->remove(label);
}

// The key pair, made by the token of `on NAME:` or here.
Result<pki::Key> make_key(Context& ctx, const GenerateRequest& r, int bits) {
  if (r.device.empty()) {
    return r.type == KeyType::kRsa ? pki::Key::generate_rsa(bits) : pki::Key::generate_ec(bits);
  }
  ASSIGN_OR_RETURN(std::shared_ptr<pki::Token> token, ctx.device().tokens().open(r.device));
  return token->generate_rsa(r.label, bits);
}

CmdResult generate_now(Context& ctx, GenerateRequest r, int bits) {
  ctx.printf("% Generating {} bit {} keys, keys will be {}...\n", bits, type_name(r.type),
             !r.device.empty() ? "on-token, non-exportable"
             : r.exportable    ? "exportable"
                               : "non-exportable");
  auto start = std::chrono::steady_clock::now();
  auto key = make_key(ctx, r, bits);
  if (!key.has_value()) return ctx.error("Key generation failed: " + key.error().message());
  auto print_elapsed = [&ctx, start] {
    auto elapsed =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
    ctx.printf("[OK] (elapsed time was {} seconds)\n", elapsed.count());
  };
  if (r.usage == ca::KeyUsage::kUsageKeys && !r.signature_key) {
    // As on IOS, the signature pair is made (and reported) before the encryption pair is
    // asked for; nothing is stored until both exist.
    r.signature_key = std::move(*key);
    print_elapsed();
    ctx.print("\n");
    return start_pair(ctx, std::move(r));
  }
  ca::KeyEntry entry{r.label, std::move(*key), r.usage, r.exportable, ctx.device().clock().now()};
  entry.device = r.device;
  if (r.signature_key) {
    entry.encryption_key = std::move(entry.key);
    entry.key = std::move(*r.signature_key);
  }
  // Generated without any lock held (it can take minutes); stored only if nobody else
  // changed the label meanwhile.
  Status s = ctx.device().keys().put_if_unchanged(entry, r.expected);
  if (s.code() == Code::kAlreadyExists) {
    return ctx.error(fmt::format(
        "The keys named {} were changed by another session while these were generated; the "
        "new keys were discarded.",
        r.label));
  }
  if (!s.ok()) {
    if (!r.device.empty()) (void)forget_on_token(ctx, r.device, r.label);
    return ctx.error("The keys could not be stored: " + s.message());
  }
  print_elapsed();
  return {};
}

void ask_modulus(Context& ctx, GenerateRequest r);

CmdResult on_modulus(Context& ctx, GenerateRequest r, std::string_view answer) {
  std::string_view t = trim_space(answer);
  int bits = kDefaultModulus;
  if (!t.empty()) {
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), bits);
    if (ec != std::errc() || end != t.data() + t.size() || bits < kMinModulus ||
        bits > kMaxModulus) {
      ctx.printf("% The modulus must be a number from {} to {}.\n", kMinModulus, kMaxModulus);
      ask_modulus(ctx, std::move(r));
      return {};
    }
  }
  if (bits < kOpensslMinModulus) return refuse_small_modulus(ctx, bits);
  return generate_now(ctx, std::move(r), bits);
}

void ask_modulus(Context& ctx, GenerateRequest r) {
  Question q;
  q.prompt = fmt::format("How many bits in the modulus [{}]: ", kDefaultModulus);
  q.on_answer = [r = std::move(r)](Context& c, std::string_view answer) {
    return on_modulus(c, r, answer);
  };
  ctx.ask(std::move(q));
}

// The modulus question, or the size given, for the next pair: the only one, or with usage
// keys the signature pair and then the encryption pair.
CmdResult start_pair(Context& ctx, GenerateRequest r) {
  if (r.bits == 0 && ctx.interactive()) {
    ca::KeyUsage pair = r.usage;
    if (pair == ca::KeyUsage::kUsageKeys) {
      pair = r.signature_key ? ca::KeyUsage::kEncryption : ca::KeyUsage::kSignature;
    }
    ctx.printf(
        "Choose the size of the key modulus in the range of {} to {} for your\n"
        "  {}. Choosing a key modulus greater than 512 may take\n"
        "  a few minutes.\n\n",
        kMinModulus, kMaxModulus, usage_plural(pair));
    ask_modulus(ctx, std::move(r));
    return {};
  }
  const int bits = r.bits == 0 ? kDefaultModulus : r.bits;
  ctx.printf("% The key modulus size is {} bits\n", bits);
  return generate_now(ctx, std::move(r), bits);
}

// After any replace question: names the keys, then asks for the modulus or generates.
CmdResult start_generation(Context& ctx, GenerateRequest r) {
  ctx.printf("The name for the keys will be: {}\n", r.label);
  if (r.type == KeyType::kEc) {
    ctx.print("\n");
    const int bits = r.bits;
    return generate_now(ctx, std::move(r), bits);
  }
  if (r.bits != 0 || !ctx.interactive()) ctx.print("\n");
  return start_pair(ctx, std::move(r));
}

CmdResult generate(Context& ctx, GenerateRequest r) {
  Status s = ca::KeyStore::check_label(r.label);
  if (!s.ok()) return ctx.error(fmt::format("Invalid key label {}: {}.", r.label, s.message()));
  if (r.type == KeyType::kRsa && r.bits != 0 && r.bits < kOpensslMinModulus) {
    return refuse_small_modulus(ctx, r.bits);
  }
  s = check_ca_key_replaceable(ctx.device(), r.label);
  if (!s.ok()) return ctx.error(s.message());
  auto existing = ctx.device().keys().get(r.label);
  r.expected = existing;
  if (existing && (!existing->device.empty() || !r.device.empty())) {
    // A token keeps one pair per label: the old pair goes first, by the operator's hand.
    return ctx.error(fmt::format(
        "You already have keys named {0}{1}; remove them first (crypto key zeroize rsa {0}).",
        r.label, existing->device.empty() ? "" : " on token " + existing->device));
  }
  if (!existing) return start_generation(ctx, std::move(r));
  ctx.printf("% You already have {} keys defined named {}.\n", type_name(type_of(existing->key)),
             r.label);
  return confirm(ctx, "% Do you really want to replace them?",
                 [r](Context& c) { return start_generation(c, r); });
}

// The label given, or IOS's default: the router's FQDN (hostname.domain), which needs
// `ip domain name` first (nullopt without one). The key keeps the name it was made with
// when the hostname or domain name changes later, as on IOS.
std::optional<std::string> label_or_default(Context& ctx, const Args& a) {
  if (a.has("label")) return std::string(a.word("label"));
  if (ctx.device().domain_name().empty()) return std::nullopt;
  return ctx.device().fqdn();
}

constexpr std::string_view kNoDomain = "Please define a domain-name first.";

CmdResult generate_rsa(Context& ctx, const Args& a) {
  GenerateRequest r;
  std::optional<std::string> label = label_or_default(ctx, a);
  if (!label) return ctx.error(kNoDomain);
  r.label = std::move(*label);
  r.usage = usage_from_keyword(a.choice("usage"));
  r.exportable = a.has("exportable");
  r.bits = static_cast<int>(a.integer("bits", 0));
  if (a.has("storage")) {
    // IOS keeps such a key as a file on the device and uses it in memory: a PKCS#11
    // token is not a file system, and its keys are used where they are.
    return ctx.error(
        fmt::format("Keys are not stored as files on a token; use \"on {}:\" to make them on it.",
                    strip_device_colon(a.word("storage"))));
  }
  if (a.has("device")) {
    r.device = strip_device_colon(a.word("device"));
    if (!ctx.device().tokens().get(r.device)) {
      return ctx.error(fmt::format("No token named {} is configured (crypto pki token {} ...).",
                                   r.device, r.device));
    }
    if (r.exportable) return ctx.error("Keys on a token are never exportable.");
    if (r.usage != ca::KeyUsage::kGeneralPurpose) {
      return ctx.error("Keys on a token are one general-purpose pair.");
    }
    if (r.bits != 0 && r.bits < 1024) {
      return ctx.error("Keys on a token are 1024 to 4096 bits.");
    }
  }
  return generate(ctx, std::move(r));
}

CmdResult generate_ec(Context& ctx, const Args& a) {
  GenerateRequest r;
  r.type = KeyType::kEc;
  std::optional<std::string> label = label_or_default(ctx, a);
  if (!label) return ctx.error(kNoDomain);
  r.label = std::move(*label);
  r.exportable = a.has("exportable");
  r.bits = a.choice("bits") == "384" ? 384 : 256;
  return generate(ctx, std::move(r));
}

// The keys `crypto key zeroize [rsa|ec [LABEL]]` removes.
std::vector<std::string> zeroize_targets(Context& ctx, const Args& a) {
  std::vector<std::string> labels;
  for (const ca::KeyEntry& e : ctx.device().keys().list()) {
    if (a.has("type") && type_name(type_of(e.key)) != upper(a.choice("type"))) continue;
    if (a.has("label") && e.label != a.word("label")) continue;
    labels.push_back(e.label);
  }
  return labels;
}

Status check_removable(ca::Device& device, const std::vector<std::string>& labels) {
  for (const std::string& label : labels) {
    auto server = device.server(label);
    if (server && server->state() == ca::ServerState::kEnabled) {
      return permission_denied(fmt::format(
          "The keys named {0} are in use by certificate server {0}; shut the server down "
          "first (crypto pki server {0}, shutdown).",
          label));
    }
  }
  return ok_status();
}

CmdResult zeroize(Context& ctx, const Args& a) {
  std::vector<std::string> labels = zeroize_targets(ctx, a);
  std::string kind = a.has("type") ? upper(a.choice("type")) + " " : "";
  if (labels.empty() && a.has("label")) {
    return ctx.error(fmt::format("No {}keys named {} exist.", kind, a.word("label")));
  }
  if (labels.empty()) return ctx.error(fmt::format("No {}keys exist.", kind));
  Status s = check_removable(ctx.device(), labels);
  if (!s.ok()) return ctx.error(s.message());
  if (a.has("label")) {
    ctx.printf("% Keys to be removed are named '{}'.\n", a.word("label"));
  } else {
    ctx.print(
        "% All keys will be removed.\n"
        "% All router certs issued using these keys will also be removed.\n");
  }
  return confirm(ctx, "Do you really want to remove these keys?", [labels](Context& c) {
    // The question gave time for a server to be enabled.
    Status checked = check_removable(c.device(), labels);
    if (!checked.ok()) return c.error(checked.message());
    for (const std::string& label : labels) {
      if (auto e = c.device().keys().get(label); e && !e->device.empty()) {
        Status gone = forget_on_token(c, e->device, e->object_label());
        if (!gone.ok() && gone.code() != Code::kNotFound) {
          return c.error(fmt::format("Keys {} could not be removed from token {}: {}", label,
                                     e->device, gone.message()));
        }
      }
      Status removed = c.device().keys().remove(label);
      if (!removed.ok() && removed.code() != Code::kNotFound) {
        return c.error(fmt::format("Keys {} could not be removed: {}", label, removed.message()));
      }
    }
    return CmdResult();
  });
}

CmdResult show_mypubkey(Context& ctx, const Args& a) {
  std::string want = upper(a.choice("type"));
  for (const ca::KeyEntry& e : ctx.device().keys().list()) {
    if (type_name(type_of(e.key)) != want) continue;
    if (a.has("label") && e.label != a.word("label")) continue;
    // Usage keys are two blocks with the same name, as on IOS.
    for (const UsagePair& pair : usage_pairs(e)) {
      ctx.printf("% Key pair was generated at: {}\n", format_ios_time(e.created));
      ctx.printf("Key name: {}\n", e.label);
      ctx.printf("Key type: {} KEYS\n", want);
      ctx.printf(" Storage Device: {}\n", e.device.empty() ? "private-config" : e.device);
      ctx.printf(" Usage: {}\n", ca::key_usage_name(pair.usage));
      ctx.printf(" Key is {}exportable.\n", e.exportable ? "" : "not ");
      ctx.print(" Key Data:\n");
      ctx.print(pki::ios_key_data(pair.key));
    }
  }
  return {};
}

}  // namespace

void register_key_commands(CommandTable& t) {
  t.add(Node::kConfig,
        "crypto key generate rsa {<general-keys|usage-keys|signature|encryption>$usage|"
        "label WORD$label|exportable|modulus (360-4096)$bits|on WORD$device|storage WORD$storage}",
        {kCryptoHelp, kKeyHelp, "Generate new keys", "Generate RSA keys",
         "Generate a general purpose RSA key pair for signing and encryption",
         "Generate separate RSA key pairs for signing and encryption",
         "Generate an RSA key pair for signing", "Generate an RSA key pair for encryption",
         "Provide a label", "RSA key pair label", "Allow the key to be exported",
         "Provide number of modulus bits on the command line", "size of the key modulus",
         "Generate the keys on a token", "Token name followed by a colon (token0:)",
         "Store the keys on a device", "Device name followed by a colon"},
        generate_rsa);
  t.add(Node::kConfig,
        "crypto key generate ec keysize <256|384>$bits {label WORD$label|exportable}",
        {kCryptoHelp, kKeyHelp, "Generate new keys", "Generate EC keys: ECDSA and ECDH",
         "Number of bits", "256 bit keys (P-256)", "384 bit keys (P-384)", "Provide a label",
         "EC key pair label", "Allow the key to be exported"},
        generate_ec);
  t.add(Node::kConfig, "crypto key zeroize [<rsa|ec>$type [WORD$label]]",
        {kCryptoHelp, kKeyHelp, "Remove keys", "Remove RSA keys", "Remove EC keys",
         "Key pair label (default: all keys of the type)"},
        zeroize);
  t.add(Node::kExec, "show crypto key mypubkey <rsa|ec>$type [WORD$label]",
        {"Show running system information", kCryptoHelp, kKeyHelp,
         "Show public keys associated with this router", "Show RSA public keys",
         "Show EC public keys", "Key pair label"},
        show_mypubkey);
  register_key_transfer_commands(t);
}

}  // namespace scepter::cli
