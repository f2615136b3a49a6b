#include "pki/token.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <vector>

#include <fmt/format.h>
#include <libp11.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>

namespace scepter::pki {

namespace {

constexpr int kMinTokenRsaBits = 1024;
constexpr int kMaxTokenRsaBits = 4096;

// The PKCS#11 return value libp11 left on the error queue (its CKR "library"), 0 if none;
// the queue is emptied either way.
unsigned long take_ckr() {
  const int ckr_lib = ERR_get_CKR_code();
  unsigned long ckr = 0;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    if (ERR_GET_LIB(e) == ckr_lib) ckr = ERR_GET_REASON(e);
  }
  return ckr;
}

Status token_error(const std::string& token, const std::string& what) {
  const unsigned long ckr = take_ckr();
  const std::string msg = ckr == 0
                              ? fmt::format("token {}: {} failed", token, what)
                              : fmt::format("token {}: {} failed (CKR 0x{:X})", token, what, ckr);
  switch (ckr) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
      return permission_denied(fmt::format("token {}: wrong user PIN", token));
    case CKR_PIN_EXPIRED:
      return permission_denied(fmt::format("token {}: the user PIN has expired", token));
    case CKR_PIN_LOCKED:
      return permission_denied(fmt::format("token {}: the user PIN is locked", token));
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
      return unavailable(fmt::format("token {}: not present ({})", token, what));
    default:
      return unavailable(msg);
  }
}

std::string text(const char* s) { return s == nullptr ? std::string() : std::string(s); }

// A big-endian integer of an RSA key (OSSL_PKEY_PARAM_RSA_*), or empty if the key lacks
// it. Private parts are wiped by ~SecretBytes.
struct SecretBytes {
  std::vector<unsigned char> bytes;
  SecretBytes() = default;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&&) = default;
  ~SecretBytes() {
    if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
  }
};

SecretBytes rsa_param(const EVP_PKEY* pkey, const char* name) {
  SecretBytes out;
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1 || bn == nullptr) return out;
  out.bytes.resize(static_cast<std::size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, out.bytes.data());
  BN_clear_free(bn);
  return out;
}

// The module's own function list: libp11 has loaded and initialised the module, so this
// is the same list, and sessions opened with it share libp11's login (PKCS#11 keeps the
// login per application and token).
Result<CK_FUNCTION_LIST*> function_list(const std::string& module) {
  void* handle = dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (handle == nullptr) return fail(unavailable("the PKCS#11 module is not loaded"));
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* list = nullptr;
  const bool ok = get != nullptr && get(&list) == CKR_OK && list != nullptr;
  dlclose(handle);  // libp11 keeps its own reference
  if (!ok) return fail(unavailable("the PKCS#11 module has no C_GetFunctionList"));
  return list;
}

}  // namespace

struct Token::Module {
  PKCS11_CTX* ctx = nullptr;
  PKCS11_SLOT* slots = nullptr;
  unsigned int nslots = 0;
  PKCS11_SLOT* slot = nullptr;  // the token's, one of `slots`

  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module() {
    if (ctx == nullptr) return;
    if (slots != nullptr) PKCS11_release_all_slots(ctx, slots, nslots);
    PKCS11_CTX_unload(ctx);
    PKCS11_CTX_free(ctx);
  }
};

Token::Token(TokenSpec spec, std::unique_ptr<Module> module)
    : spec_(std::move(spec)), module_(std::move(module)) {}

Token::~Token() = default;

Result<std::shared_ptr<Token>> Token::open(const TokenSpec& spec) {
  ERR_clear_error();
  // Checked first: libp11 would also print the loader's complaint on stderr.
  if (access(spec.module.c_str(), R_OK) != 0) {
    return fail(not_found(
        fmt::format("token {}: cannot read the PKCS#11 module {}", spec.name, spec.module)));
  }
  auto m = std::make_unique<Module>();
  m->ctx = PKCS11_CTX_new();
  if (m->ctx == nullptr) return fail(internal_error("cannot allocate a PKCS#11 context"));
  if (PKCS11_CTX_load(m->ctx, spec.module.c_str()) != 0) {
    take_ckr();
    PKCS11_CTX_free(m->ctx);
    m->ctx = nullptr;
    return fail(not_found(
        fmt::format("token {}: cannot load the PKCS#11 module {}", spec.name, spec.module)));
  }
  if (PKCS11_enumerate_slots(m->ctx, &m->slots, &m->nslots) != 0) {
    return fail(token_error(spec.name, "listing the module's slots"));
  }
  for (unsigned int i = 0; i < m->nslots && m->slot == nullptr; ++i) {
    PKCS11_SLOT* s = &m->slots[i];
    if (s->token == nullptr) continue;
    if (spec.slot) {
      if (PKCS11_get_slotid_from_slot(s) == *spec.slot) m->slot = s;
    } else if (!spec.label.empty()) {
      if (text(s->token->label) == spec.label) m->slot = s;
    } else if (s->token->initialized != 0) {
      m->slot = s;
    }
  }
  if (m->slot == nullptr) {
    const std::string which = spec.slot            ? fmt::format("in slot {}", *spec.slot)
                              : spec.label.empty() ? std::string("initialised")
                                                   : "labelled " + spec.label;
    return fail(
        not_found(fmt::format("token {}: no token {} in {}", spec.name, which, spec.module)));
  }
  if (spec.slot && !spec.label.empty() && text(m->slot->token->label) != spec.label) {
    return fail(
        not_found(fmt::format("token {}: the token in slot {} is labelled '{}', not '{}'",
                              spec.name, *spec.slot, text(m->slot->token->label), spec.label)));
  }
  // Read-write, for generating and deleting keys; a read-only token still signs.
  if (PKCS11_open_session(m->slot, 1) != 0 && PKCS11_open_session(m->slot, 0) != 0) {
    return fail(token_error(spec.name, "opening a session"));
  }
  if (PKCS11_login(m->slot, 0, spec.pin.c_str()) != 0) {
    return fail(token_error(spec.name, "logging in"));
  }
  return std::shared_ptr<Token>(new Token(spec, std::move(m)));
}

Result<TokenInfo> Token::info() const {
  MutexLock lock(mu_);
  const PKCS11_SLOT* s = module_->slot;
  const PKCS11_TOKEN* t = s->token;
  TokenInfo info;
  info.label = text(t->label);
  info.manufacturer = text(t->manufacturer);
  info.model = text(t->model);
  info.serial = text(t->serialnr);
  info.slot = PKCS11_get_slotid_from_slot(module_->slot);
  info.slot_description = text(s->description);
  info.removable = s->removable != 0;
  info.read_only = t->readOnly != 0;
  info.pin_count_low = t->userPinCountLow != 0;
  info.pin_final_try = t->userPinFinalTry != 0;
  info.pin_locked = t->userPinLocked != 0;
  int logged_in = 0;
  if (PKCS11_is_logged_in(module_->slot, 0, &logged_in) != 0) {
    return fail(token_error(spec_.name, "reading the login state"));
  }
  info.logged_in = logged_in != 0;
  return info;
}

bool Token::removed(const void* id, std::size_t id_len) const {
  return removed_ids_.count(std::string(static_cast<const char*>(id), id_len)) != 0;
}

Result<Key> Token::find_locked(const std::string& key_label) {
  PKCS11_KEY* keys = nullptr;
  unsigned int n = 0;
  if (PKCS11_enumerate_keys(module_->slot->token, &keys, &n) != 0) {
    return fail(token_error(spec_.name, "listing keys"));
  }
  for (unsigned int i = 0; i < n; ++i) {
    if (keys[i].isPrivate == 0 || text(keys[i].label) != key_label) continue;
    if (removed(keys[i].id, keys[i].id_len)) continue;
    Ptr<EVP_PKEY> pkey(PKCS11_get_private_key(&keys[i]));
    if (!pkey) return fail(token_error(spec_.name, "reading key " + key_label));
    return Key::on_token(std::move(pkey), shared_from_this(), spec_.name);
  }
  return fail(not_found(fmt::format("token {}: no key labelled {}", spec_.name, key_label)));
}

Result<Key> Token::find(const std::string& key_label) {
  MutexLock lock(mu_);
  return find_locked(key_label);
}

Result<std::vector<std::string>> Token::labels() {
  MutexLock lock(mu_);
  PKCS11_KEY* keys = nullptr;
  unsigned int n = 0;
  if (PKCS11_enumerate_keys(module_->slot->token, &keys, &n) != 0) {
    return fail(token_error(spec_.name, "listing keys"));
  }
  std::vector<std::string> out;
  for (unsigned int i = 0; i < n; ++i) {
    if (keys[i].isPrivate != 0 && !removed(keys[i].id, keys[i].id_len)) {
      out.push_back(text(keys[i].label));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<Key> Token::generate_rsa(const std::string& key_label, int bits) {
  if (bits < kMinTokenRsaBits || bits > kMaxTokenRsaBits) {
    return fail(invalid_argument(fmt::format("a key on a token is {} to {} bits, not {}",
                                             kMinTokenRsaBits, kMaxTokenRsaBits, bits)));
  }
  if (key_label.empty()) return fail(invalid_argument("a key on a token needs a label"));
  MutexLock lock(mu_);
  Result<Key> existing = find_locked(key_label);
  if (existing) {
    return fail(already_exists(
        fmt::format("token {}: a key labelled {} exists already", spec_.name, key_label)));
  }
  if (existing.error().code() != Code::kNotFound) return existing;
  // The CKA_ID ties the public and private objects together; random, so that two labels
  // never share one.
  std::array<unsigned char, 8> id{};
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) {
    return fail(last_error("drawing a key id"));
  }
  std::string label = key_label;  // libp11 takes a non-const char*
  ERR_clear_error();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  // libp11 0.4's only key generation: C_GenerateKeyPair with the private key sensitive
  // (the token keeps it unextractable; keystore tests check both attributes).
  const int rc =
      PKCS11_generate_key(module_->slot->token, EVP_PKEY_RSA, static_cast<unsigned int>(bits),
                          label.data(), id.data(), id.size());
#pragma GCC diagnostic pop
  if (rc != 0) return fail(token_error(spec_.name, "generating an RSA key"));
  return find_locked(key_label);
}

Result<Key> Token::import_rsa(const std::string& key_label, const Key& key) {
  if (!key.is_rsa() || !key.has_private()) {
    return fail(invalid_argument("only an RSA key pair can be imported onto a token"));
  }
  if (key.bits() < kMinTokenRsaBits || key.bits() > kMaxTokenRsaBits) {
    return fail(invalid_argument(fmt::format("a key on a token is {} to {} bits, not {}",
                                             kMinTokenRsaBits, kMaxTokenRsaBits, key.bits())));
  }
  if (key_label.empty()) return fail(invalid_argument("a key on a token needs a label"));
  const EVP_PKEY* pkey = key.evp();
  const SecretBytes n = rsa_param(pkey, OSSL_PKEY_PARAM_RSA_N);
  const SecretBytes e = rsa_param(pkey, OSSL_PKEY_PARAM_RSA_E);
  const SecretBytes d = rsa_param(pkey, OSSL_PKEY_PARAM_RSA_D);
  const SecretBytes p = rsa_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1);
  const SecretBytes q = rsa_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR2);
  const SecretBytes dp = rsa_param(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1);
  const SecretBytes dq = rsa_param(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2);
  const SecretBytes qinv = rsa_param(pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  for (const SecretBytes* part : {&n, &e, &d, &p, &q, &dp, &dq, &qinv}) {
    if (part->bytes.empty()) {
      return fail(invalid_argument("the RSA key lacks the CRT parameters a token needs"));
    }
  }
  MutexLock lock(mu_);
  Result<Key> existing = find_locked(key_label);
  if (existing) {
    return fail(already_exists(
        fmt::format("token {}: a key labelled {} exists already", spec_.name, key_label)));
  }
  if (existing.error().code() != Code::kNotFound) return existing;
  ASSIGN_OR_RETURN(CK_FUNCTION_LIST * f, function_list(spec_.module));
  std::array<unsigned char, 8> id{};
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) {
    return fail(last_error("drawing a key id"));
  }
  // libp11 0.4 would create the private object extractable: written here instead, never
  // extractable and sensitive from the start.
  CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
  CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY;
  CK_KEY_TYPE rsa = CKK_RSA;
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  std::string label = key_label;
  auto attr = [](CK_ATTRIBUTE_TYPE type, const void* value, std::size_t len) {
    return CK_ATTRIBUTE{type, const_cast<void*>(value), static_cast<CK_ULONG>(len)};
  };
  auto bytes = [&](CK_ATTRIBUTE_TYPE type, const SecretBytes& b) {
    return attr(type, b.bytes.data(), b.bytes.size());
  };
  std::vector<CK_ATTRIBUTE> private_template = {
      attr(CKA_CLASS, &private_class, sizeof private_class),
      attr(CKA_KEY_TYPE, &rsa, sizeof rsa),
      attr(CKA_TOKEN, &yes, sizeof yes),
      attr(CKA_PRIVATE, &yes, sizeof yes),
      attr(CKA_SENSITIVE, &yes, sizeof yes),
      attr(CKA_EXTRACTABLE, &no, sizeof no),
      attr(CKA_SIGN, &yes, sizeof yes),
      attr(CKA_DECRYPT, &yes, sizeof yes),
      attr(CKA_UNWRAP, &yes, sizeof yes),
      attr(CKA_LABEL, label.data(), label.size()),
      attr(CKA_ID, id.data(), id.size()),
      bytes(CKA_MODULUS, n),
      bytes(CKA_PUBLIC_EXPONENT, e),
      bytes(CKA_PRIVATE_EXPONENT, d),
      bytes(CKA_PRIME_1, p),
      bytes(CKA_PRIME_2, q),
      bytes(CKA_EXPONENT_1, dp),
      bytes(CKA_EXPONENT_2, dq),
      bytes(CKA_COEFFICIENT, qinv)};
  std::vector<CK_ATTRIBUTE> public_template = {attr(CKA_CLASS, &public_class, sizeof public_class),
                                               attr(CKA_KEY_TYPE, &rsa, sizeof rsa),
                                               attr(CKA_TOKEN, &yes, sizeof yes),
                                               attr(CKA_VERIFY, &yes, sizeof yes),
                                               attr(CKA_ENCRYPT, &yes, sizeof yes),
                                               attr(CKA_WRAP, &yes, sizeof yes),
                                               attr(CKA_LABEL, label.data(), label.size()),
                                               attr(CKA_ID, id.data(), id.size()),
                                               bytes(CKA_MODULUS, n),
                                               bytes(CKA_PUBLIC_EXPONENT, e)};
  CK_SESSION_HANDLE session = 0;
  CK_RV rv = f->C_OpenSession(PKCS11_get_slotid_from_slot(module_->slot),
                              CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session);
  if (rv != CKR_OK) {
    return fail(unavailable(
        fmt::format("token {}: opening a session failed (CKR 0x{:X})", spec_.name, rv)));
  }
  CK_OBJECT_HANDLE private_object = 0;
  CK_OBJECT_HANDLE public_object = 0;
  rv = f->C_CreateObject(session, private_template.data(),
                         static_cast<CK_ULONG>(private_template.size()), &private_object);
  const char* step = "the private key";
  if (rv == CKR_OK) {
    step = "the public key";
    rv = f->C_CreateObject(session, public_template.data(),
                           static_cast<CK_ULONG>(public_template.size()), &public_object);
    if (rv != CKR_OK) (void)f->C_DestroyObject(session, private_object);
  }
  (void)f->C_CloseSession(session);
  if (rv != CKR_OK) {
    if (rv == CKR_USER_NOT_LOGGED_IN) {
      return fail(permission_denied(fmt::format("token {}: not logged in", spec_.name)));
    }
    return fail(
        unavailable(fmt::format("token {}: writing {} failed (CKR 0x{:X})", spec_.name, step, rv)));
  }
  return find_locked(key_label);
}

Status Token::remove(const std::string& key_label) {
  MutexLock lock(mu_);
  PKCS11_KEY* keys = nullptr;
  unsigned int n = 0;
  if (PKCS11_enumerate_keys(module_->slot->token, &keys, &n) != 0) {
    return token_error(spec_.name, "listing keys");
  }
  PKCS11_KEY* victim = nullptr;
  for (unsigned int i = 0; i < n && victim == nullptr; ++i) {
    if (keys[i].isPrivate != 0 && text(keys[i].label) == key_label &&
        !removed(keys[i].id, keys[i].id_len)) {
      victim = &keys[i];
    }
  }
  if (victim == nullptr) {
    return not_found(fmt::format("token {}: no key labelled {}", spec_.name, key_label));
  }
  const std::string id(reinterpret_cast<const char*>(victim->id), victim->id_len);
  if (PKCS11_remove_key(victim) != 0) {
    return token_error(spec_.name, "deleting key " + key_label);
  }
  removed_ids_.insert(id);
  // Its public half, which carries the same CKA_ID.
  if (PKCS11_enumerate_public_keys(module_->slot->token, &keys, &n) != 0) {
    return token_error(spec_.name, "listing public keys");
  }
  for (unsigned int i = 0; i < n; ++i) {
    if (std::string(reinterpret_cast<const char*>(keys[i].id), keys[i].id_len) == id &&
        PKCS11_remove_key(&keys[i]) != 0) {
      return token_error(spec_.name, "deleting the public key of " + key_label);
    }
  }
  return ok_status();
}

}  // namespace scepter::pki
