#include "pki/key.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "pki/crl_der.h"
#include "pki/encoding.h"
#include "pki/io.h"
#include "pki/provider.h"

namespace scepter::pki {
namespace {

constexpr int kMinRsaBits = 512;  // OpenSSL 3 refuses smaller moduli
constexpr int kMaxRsaBits = 16384;
constexpr int kSaltBytes = 16;  // RFC 8018 asks for at least 8; NIST SP 800-132 for 16

// Owners for the PKCS#8 structures only this file uses (pki::Ptr covers the common types).
template <class T, void (*Fn)(T*)>
struct FreeWith {
  void operator()(T* p) const { Fn(p); }
};
using SigPtr = std::unique_ptr<X509_SIG, FreeWith<X509_SIG, X509_SIG_free>>;
using P8InfoPtr =
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, FreeWith<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>>;
using PbeParamPtr = std::unique_ptr<PBEPARAM, FreeWith<PBEPARAM, PBEPARAM_free>>;
using Pbe2ParamPtr = std::unique_ptr<PBE2PARAM, FreeWith<PBE2PARAM, PBE2PARAM_free>>;
using Pbkdf2ParamPtr = std::unique_ptr<PBKDF2PARAM, FreeWith<PBKDF2PARAM, PBKDF2PARAM_free>>;

std::string object_name(const ASN1_OBJECT* obj) {
  const int nid = OBJ_obj2nid(obj);
  if (nid != NID_undef) return OBJ_nid2ln(nid);
  char buf[128];
  const int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  return n > 0
             ? std::string(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1))
             : "unknown";
}

// ASN1_INTEGER_get returns -1 on failure and for negative numbers; both read as "bad".
long integer_value(const ASN1_INTEGER* i) {
  if (i == nullptr) return -1;
  const long v = ASN1_INTEGER_get(i);
  ERR_clear_error();
  return v;
}

template <class T>
T* unpack(const ASN1_ITEM* item, const ASN1_TYPE* param) {
  if (param == nullptr || param->type != V_ASN1_SEQUENCE) return nullptr;
  return static_cast<T*>(ASN1_TYPE_unpack_sequence(item, param));
}

struct Passphrase {
  std::string_view text;
  bool asked = false;
};

// Never let OpenSSL fall back to prompting on the terminal: a daemon has none.
int passphrase_cb(char* buf, int size, int /*rwflag*/, void* user) {
  auto* pass = static_cast<Passphrase*>(user);
  pass->asked = true;
  if (pass->text.empty() || pass->text.size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buf, pass->text.data(), pass->text.size());
  return static_cast<int>(pass->text.size());
}

bool has_bn_param(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  const bool present = EVP_PKEY_get_bn_param(pkey, name, &raw) == 1;
  Ptr<BIGNUM> owned(raw);
  return present;
}

Status on_token_error(const std::string& token) {
  return permission_denied("the private key is on token " + token + " and never leaves it");
}

bool detect_private(const EVP_PKEY* pkey) {
  const bool present =
      has_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D) || has_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY);
  ERR_clear_error();
  return present;
}

const char* cipher_name(PemCipher cipher) {
  switch (cipher) {
    case PemCipher::kDes:
      return "DES-CBC";
    case PemCipher::kTripleDes:
      return "DES-EDE3-CBC";
    case PemCipher::kAes256:
      return "AES-256-CBC";
  }
  return "AES-256-CBC";
}

// A DER INTEGER that is non-negative and minimal (X.690 8.3.2), as OpenSSL writes a
// BIGNUM.
bool minimal_unsigned_integer(const der::Tlv& t) {
  if (t.cls != V_ASN1_UNIVERSAL || t.tag != V_ASN1_INTEGER || t.constructed) return false;
  const std::string_view v = t.content;
  if (v.empty() || (static_cast<unsigned char>(v[0]) & 0x80) != 0) return false;
  return !(v.size() > 1 && v[0] == 0 && (static_cast<unsigned char>(v[1]) & 0x80) == 0);
}

bool is_tlv(const der::Tlv& t, int tag, bool constructed) {
  return t.cls == V_ASN1_UNIVERSAL && t.tag == tag && t.constructed == constructed;
}

// The parts of a SubjectPublicKeyInfo that is, byte for byte, what i2d_PUBKEY writes for
// the key it encodes: for RSA, AlgorithmIdentifier {rsaEncryption, NULL} and an
// RSAPublicKey of two minimal non-negative INTEGERs; for EC, {id-ecPublicKey, named
// curve} and an uncompressed point. All lengths are DER (der::next_tlv refuses others)
// and nothing trails at any level. Views into the SPKI.
struct CanonicalSpki {
  bool rsa = false;
  std::string_view modulus;   // RSA: INTEGER contents
  std::string_view exponent;  // RSA: INTEGER contents
  std::string_view curve;     // EC: the OBJECT IDENTIFIER TLV
  std::string_view point;     // EC: 0x04 || X || Y
};

// False means only that the bytes are not in that form: the key is then decoded (and
// encoded) by OpenSSL's own code (see Key::make and Key::from_public_der).
bool canonical_spki(std::string_view spki, CanonicalSpki& out) {
  static constexpr std::string_view kRsaAlg("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00",
                                            13);
  static constexpr std::string_view kEcOid("\x06\x07\x2a\x86\x48\xce\x3d\x02\x01", 9);
  der::Tlv outer;
  der::Tlv alg;
  der::Tlv bits;
  if (der::next_tlv(spki, outer) != nullptr || !spki.empty() ||
      !is_tlv(outer, V_ASN1_SEQUENCE, true)) {
    return false;
  }
  std::string_view body = outer.content;
  if (der::next_tlv(body, alg) != nullptr || !is_tlv(alg, V_ASN1_SEQUENCE, true) ||
      der::next_tlv(body, bits) != nullptr || !is_tlv(bits, V_ASN1_BIT_STRING, false) ||
      !body.empty() || bits.content.size() < 2 || bits.content[0] != 0) {
    return false;
  }
  std::string_view key = bits.content.substr(1);
  if (alg.content == kRsaAlg) {
    der::Tlv seq;
    der::Tlv n;
    der::Tlv e;
    if (der::next_tlv(key, seq) != nullptr || !key.empty() || !is_tlv(seq, V_ASN1_SEQUENCE, true)) {
      return false;
    }
    std::string_view ints = seq.content;
    if (der::next_tlv(ints, n) != nullptr || der::next_tlv(ints, e) != nullptr || !ints.empty() ||
        !minimal_unsigned_integer(n) || !minimal_unsigned_integer(e)) {
      return false;
    }
    out = CanonicalSpki{true, n.content, e.content, {}, {}};
    return true;
  }
  if (alg.content.substr(0, kEcOid.size()) == kEcOid) {
    std::string_view params = alg.content.substr(kEcOid.size());
    der::Tlv curve;
    if (der::next_tlv(params, curve) != nullptr || !params.empty() ||
        !is_tlv(curve, V_ASN1_OBJECT, false) || key[0] != 0x04 || key.size() % 2 != 1) {
      return false;
    }
    out = CanonicalSpki{false, {}, {}, curve.whole, key};
    return true;
  }
  return false;
}

bool canonical_spki(std::string_view spki) {
  CanonicalSpki parts;
  return canonical_spki(spki, parts);
}

// The key of a canonical SPKI, imported with EVP_PKEY_fromdata: OpenSSL 3.0 decodes a
// SubjectPublicKeyInfo through its decoder framework, which costs about as much as a
// third of an RSA-2048 signature (d2i_PUBKEY: 114 us, this: 5 us, measured on the bench
// machine); importing the numbers is what its decoders do in the end. Null when
// OpenSSL refuses them (a zero modulus, a point not on the curve, a curve it does not
// know): the caller then lets d2i_PUBKEY judge the bytes.
Ptr<EVP_PKEY> import_public(const CanonicalSpki& parts) {
  Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld) return nullptr;
  Ptr<BIGNUM> n;
  Ptr<BIGNUM> e;
  const char* type = "RSA";
  if (parts.rsa) {
    const auto bn = [](std::string_view v) {
      return Ptr<BIGNUM>(BN_bin2bn(reinterpret_cast<const unsigned char*>(v.data()),
                                   static_cast<int>(v.size()), nullptr));
    };
    n = bn(parts.modulus);
    e = bn(parts.exponent);
    if (!n || !e || BN_is_zero(n.get()) || BN_is_zero(e.get()) ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
      return nullptr;
    }
  } else {
    type = "EC";
    const auto* p = reinterpret_cast<const unsigned char*>(parts.curve.data());
    Ptr<ASN1_OBJECT> oid(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(parts.curve.size())));
    const char* group = oid ? OSSL_EC_curve_nid2name(OBJ_obj2nid(oid.get())) : nullptr;
    if (group == nullptr ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, parts.point.data(),
                                         parts.point.size()) != 1) {
      return nullptr;
    }
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld.get());
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    raw = nullptr;
  }
  OSSL_PARAM_free(params);
  return Ptr<EVP_PKEY>(raw);
}

}  // namespace

Key::Key(Ptr<EVP_PKEY> pkey, bool has_private, std::string spki_der)
    : pkey_(std::move(pkey)), has_private_(has_private), spki_der_(std::move(spki_der)) {}

Key::Key(const Key& other)
    : pkey_(up_ref(other.pkey_.get())),
      has_private_(other.has_private_),
      spki_der_(other.spki_der_),
      holder_(other.holder_),
      token_(other.token_) {}

Key& Key::operator=(const Key& other) {
  if (this != &other) {
    pkey_ = up_ref(other.pkey_.get());
    has_private_ = other.has_private_;
    spki_der_ = other.spki_der_;
    holder_ = other.holder_;
    token_ = other.token_;
  }
  return *this;
}

Result<Key> Key::make(Ptr<EVP_PKEY> pkey, bool has_private, std::string_view decoded_from) {
  if (!pkey) return fail(invalid_argument("no key"));
  // OpenSSL 3 encodes a key through its encoder framework (about as costly as decoding
  // one): bytes that already are that encoding are kept instead.
  if (!decoded_from.empty() && canonical_spki(decoded_from)) {
    return Key(std::move(pkey), has_private, std::string(decoded_from));
  }
  std::string spki = to_der(i2d_PUBKEY, pkey.get());
  if (spki.empty()) return fail(last_error(Code::kInvalidArgument, "cannot encode public key"));
  return Key(std::move(pkey), has_private, std::move(spki));
}

Result<Key> Key::generate_rsa(int bits) {
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return fail(invalid_argument("RSA key size must be between " + std::to_string(kMinRsaBits) +
                                 " and " + std::to_string(kMaxRsaBits) + " bits, not " +
                                 std::to_string(bits)));
  }
  Ptr<EVP_PKEY> pkey(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  if (!pkey) return fail(last_error("generating RSA key"));
  return make(std::move(pkey), true);
}

Result<Key> Key::generate_ec(int bits) {
  const char* curve = bits == 256 ? "P-256" : bits == 384 ? "P-384" : nullptr;
  if (curve == nullptr) {
    return fail(
        invalid_argument("EC key size must be 256 or 384 bits, not " + std::to_string(bits)));
  }
  Ptr<EVP_PKEY> pkey(EVP_EC_gen(curve));
  if (!pkey) return fail(last_error("generating EC key"));
  return make(std::move(pkey), true);
}

Result<Pkcs8Protection> pkcs8_protection(std::string_view pem) {
  Ptr<BIO> bio = read_bio(pem);
  if (!bio) return fail(last_error("allocating BIO"));
  SigPtr sig(PEM_read_bio_PKCS8(bio.get(), nullptr, nullptr, nullptr));
  if (!sig) return fail(last_error(Code::kInvalidArgument, "no encrypted PKCS#8 key in PEM"));
  const X509_ALGOR* alg = nullptr;
  X509_SIG_get0(sig.get(), &alg, nullptr);
  Pkcs8Protection out;
  out.scheme = object_name(alg->algorithm);
  const auto bad = [] { return fail(invalid_argument("unreadable key encryption parameters")); };
  if (OBJ_obj2nid(alg->algorithm) != NID_pbes2) {
    PbeParamPtr pbe(unpack<PBEPARAM>(ASN1_ITEM_rptr(PBEPARAM), alg->parameter));
    if (!pbe) return bad();
    out.iterations = integer_value(pbe->iter);
    out.salt_length = pbe->salt ? static_cast<std::size_t>(ASN1_STRING_length(pbe->salt)) : 0;
    return out;
  }
  Pbe2ParamPtr pbe2(unpack<PBE2PARAM>(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter));
  if (!pbe2 || !pbe2->keyfunc || !pbe2->encryption) return bad();
  out.kdf = object_name(pbe2->keyfunc->algorithm);
  out.cipher = object_name(pbe2->encryption->algorithm);
  if (OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2) {
    Pbkdf2ParamPtr kdf(unpack<PBKDF2PARAM>(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter));
    if (!kdf) return bad();
    out.iterations = integer_value(kdf->iter);
    // RFC 8018: an absent PRF means HMAC-SHA1.
    out.prf = kdf->prf ? object_name(kdf->prf->algorithm) : OBJ_nid2ln(NID_hmacWithSHA1);
    if (kdf->salt && kdf->salt->type == V_ASN1_OCTET_STRING) {
      out.salt_length = static_cast<std::size_t>(ASN1_STRING_length(kdf->salt->value.octet_string));
    }
  }
  return out;
}

Result<Key> Key::from_pem(std::string_view pem, std::string_view passphrase) {
  const bool pkcs8_encrypted = pem.find("ENCRYPTED PRIVATE KEY") != std::string_view::npos;
  const bool encrypted =
      pkcs8_encrypted || pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
  // Whether the encryption is one OpenSSL's default provider does (ours, PBES2 with
  // AES, or an IOS 3DES/AES export). Others (IOS's single DES, PBES1) need the legacy
  // provider, loaded only then: once loaded, every key decode of the process also
  // consults its decoders, which doubles the cost of each (measured on the enrolment
  // path: 1.3 M instructions per decode without it, 3.4 M with it).
  bool default_cipher = !encrypted;
  if (pkcs8_encrypted) {
    // OpenSSL runs whatever iteration count the file names: look before decrypting.
    auto protection = pkcs8_protection(pem);
    if (protection.has_value() && protection->iterations > kMaxKeyEncryptionIterations) {
      return fail(invalid_argument("the private key asks for " +
                                   std::to_string(protection->iterations) +
                                   " key derivation iterations; at most " +
                                   std::to_string(kMaxKeyEncryptionIterations) + " are accepted"));
    }
    default_cipher =
        protection.has_value() && protection->scheme == "PBES2" &&
        (protection->cipher.starts_with("aes-") || protection->cipher == "des-ede3-cbc");
    ERR_clear_error();
  } else if (encrypted) {
    default_cipher = pem.find("DEK-Info: AES-") != std::string_view::npos ||
                     pem.find("DEK-Info: DES-EDE3-CBC,") != std::string_view::npos;
  }
  if (!default_cipher) load_legacy_provider();
  Ptr<BIO> bio = read_bio(pem);
  if (!bio) return fail(last_error("allocating BIO"));
  Passphrase pass{passphrase};
  Ptr<EVP_PKEY> pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_cb, &pass));
  if (pkey) {
    ERR_clear_error();
    return make(std::move(pkey), true);
  }
  if (encrypted) {
    ERR_clear_error();
    if (passphrase.empty()) {
      return fail(permission_denied("the private key is encrypted: a passphrase is required"));
    }
    return fail(permission_denied("cannot decrypt the private key: wrong passphrase?"));
  }
  if (pem.find("-----BEGIN PUBLIC KEY-----") != std::string_view::npos) {
    ERR_clear_error();
    bio = read_bio(pem);
    if (!bio) return fail(last_error("allocating BIO"));
    pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, passphrase_cb, &pass));
    if (pkey) return make(std::move(pkey), false);
  }
  return fail(last_error(Code::kInvalidArgument, "no usable key in PEM"));
}

Result<Key> Key::from_public_der(std::string_view spki_der) {
  CanonicalSpki parts;
  if (canonical_spki(spki_der, parts)) {
    if (Ptr<EVP_PKEY> pkey = import_public(parts)) {
      return Key(std::move(pkey), false, std::string(spki_der));
    }
  }
  ERR_clear_error();
  const auto* p = reinterpret_cast<const unsigned char*>(spki_der.data());
  if (spki_der.size() > LONG_MAX) return fail(invalid_argument("public key too large"));
  Ptr<EVP_PKEY> pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!pkey) return fail(last_error(Code::kInvalidArgument, "bad SubjectPublicKeyInfo"));
  if (p != reinterpret_cast<const unsigned char*>(spki_der.data() + spki_der.size())) {
    return fail(invalid_argument("trailing bytes after SubjectPublicKeyInfo"));
  }
  return make(std::move(pkey), false, spki_der);
}

Result<Key> Key::from_evp(Ptr<EVP_PKEY> pkey) {
  if (!pkey) return fail(invalid_argument("no key"));
  const bool priv = detect_private(pkey.get());
  return make(std::move(pkey), priv);
}

Result<Key> Key::on_token(Ptr<EVP_PKEY> pkey, std::shared_ptr<const void> holder,
                          std::string token) {
  if (!holder || token.empty()) return fail(invalid_argument("a token key needs its token"));
  ASSIGN_OR_RETURN(Key key, make(std::move(pkey), true));
  key.holder_ = std::move(holder);
  key.token_ = std::move(token);
  return key;
}

Result<Key> Key::from_decoded(Ptr<EVP_PKEY> pkey, std::string_view spki_der) {
  if (!pkey) return fail(invalid_argument("no key"));
  const bool priv = detect_private(pkey.get());
  return make(std::move(pkey), priv, spki_der);
}

Status Key::check_private() const {
  if (!has_private_) return invalid_argument("the key has no private part");
  static constexpr std::string_view kProbe = "scepterd key check";
  ASSIGN_OR_RETURN(std::string sig, sign(kProbe));
  if (!verify(kProbe, sig).ok()) return unavailable("the private key's signature does not verify");
  return ok_status();
}

Result<std::string> Key::sign(std::string_view data) const {
  if (!has_private_) return fail(invalid_argument("the key has no private part"));
  Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx) return fail(last_error("allocating a digest context"));
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) {
    return fail(last_error(Code::kUnavailable, "signing with the private key"));
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     data.size()) != 1) {
    return fail(last_error(Code::kUnavailable, "signing with the private key"));
  }
  sig.resize(len);
  return sig;
}

Status Key::verify(std::string_view data, std::string_view signature) const {
  Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey_.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) != 1) {
    ERR_clear_error();
    return permission_denied("the signature does not verify");
  }
  return ok_status();
}

bool Key::is_rsa() const { return EVP_PKEY_is_a(pkey_.get(), "RSA") == 1; }
bool Key::is_ec() const { return EVP_PKEY_is_a(pkey_.get(), "EC") == 1; }
int Key::bits() const { return EVP_PKEY_get_bits(pkey_.get()); }

Result<std::string> Key::to_encrypted_pkcs8_pem(std::string_view passphrase, int iterations) const {
  if (!token_.empty()) return fail(on_token_error(token_));
  if (!has_private_) return fail(invalid_argument("the key has no private part"));
  if (passphrase.empty()) return fail(invalid_argument("a passphrase is required"));
  if (passphrase.size() > INT_MAX) return fail(invalid_argument("passphrase too long"));
  if (iterations < 1 || iterations > kMaxKeyEncryptionIterations) {
    return fail(invalid_argument("iteration count out of range"));
  }
  // PEM_write_bio_PKCS8PrivateKey would use OpenSSL's default of 2048 iterations: build
  // the PBES2 parameters ourselves. A null salt and IV make OpenSSL draw random ones.
  Ptr<X509_ALGOR> pbe(PKCS5_pbe2_set_iv_ex(EVP_aes_256_cbc(), iterations, nullptr, kSaltBytes,
                                           nullptr, NID_hmacWithSHA256, nullptr));
  if (!pbe) return fail(last_error("setting up PBES2"));
  P8InfoPtr info(EVP_PKEY2PKCS8(pkey_.get()));
  if (!info) return fail(last_error("encoding private key"));
  SigPtr sig(PKCS8_set0_pbe_ex(passphrase.data(), static_cast<int>(passphrase.size()), info.get(),
                               pbe.get(), nullptr, nullptr));
  if (!sig) return fail(last_error("encrypting private key"));
  pbe.release();  // the X509_SIG owns it now
  Ptr<BIO> bio = write_bio();
  if (!bio) return fail(last_error("allocating BIO"));
  if (PEM_write_bio_PKCS8(bio.get(), sig.get()) != 1) {
    return fail(last_error("writing encrypted private key"));
  }
  return bio_contents(bio.get());
}

Result<std::string> Key::to_pkcs8_der() const {
  if (!token_.empty()) return fail(on_token_error(token_));
  if (!has_private_) return fail(invalid_argument("the key has no private part"));
  P8InfoPtr info(EVP_PKEY2PKCS8(pkey_.get()));
  if (!info) return fail(last_error("encoding private key"));
  std::string der = to_der(i2d_PKCS8_PRIV_KEY_INFO, info.get());
  if (der.empty()) return fail(last_error("encoding private key"));
  return der;
}

Result<Key> Key::from_pkcs8_der(std::string_view der) {
  if (der.size() > LONG_MAX) return fail(invalid_argument("private key too large"));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  P8InfoPtr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (!info || p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    ERR_clear_error();
    return fail(invalid_argument("not a PKCS#8 private key"));
  }
  Ptr<EVP_PKEY> pkey(EVP_PKCS82PKEY(info.get()));
  if (!pkey) return fail(last_error(Code::kInvalidArgument, "not a usable PKCS#8 private key"));
  return make(std::move(pkey), true);
}

Result<std::string> Key::to_traditional_pem(std::string_view passphrase, PemCipher cipher) const {
  if (!token_.empty()) return fail(on_token_error(token_));
  if (!has_private_) return fail(invalid_argument("the key has no private part"));
  if (passphrase.empty()) return fail(invalid_argument("a passphrase is required"));
  if (cipher == PemCipher::kDes && !load_legacy_provider()) {
    return fail(unavailable("DES needs the OpenSSL legacy provider, which is not installed"));
  }
  // The "type-specific" structure is PKCS#1 for RSA and SEC1 for EC; with a cipher the
  // PEM encoder writes the Proc-Type/DEK-Info headers.
  Ptr<OSSL_ENCODER_CTX> ctx(OSSL_ENCODER_CTX_new_for_pkey(pkey_.get(), OSSL_KEYMGMT_SELECT_KEYPAIR,
                                                          "PEM", "type-specific", nullptr));
  if (!ctx || OSSL_ENCODER_CTX_get_num_encoders(ctx.get()) == 0) {
    return fail(last_error("no traditional PEM encoder for this key"));
  }
  if (OSSL_ENCODER_CTX_set_cipher(ctx.get(), cipher_name(cipher), nullptr) != 1 ||
      OSSL_ENCODER_CTX_set_passphrase(ctx.get(),
                                      reinterpret_cast<const unsigned char*>(passphrase.data()),
                                      passphrase.size()) != 1) {
    return fail(last_error(cipher == PemCipher::kDes ? Code::kUnavailable : Code::kInternal,
                           "setting up PEM encryption"));
  }
  Ptr<BIO> bio = write_bio();
  if (!bio) return fail(last_error("allocating BIO"));
  if (OSSL_ENCODER_to_bio(ctx.get(), bio.get()) != 1) {
    return fail(last_error("encoding private key"));
  }
  return bio_contents(bio.get());
}

std::string Key::public_pem() const { return pem_encode("PUBLIC KEY", spki_der_); }

bool Key::equals_public(const Key& other) const {
  const bool same = EVP_PKEY_eq(pkey_.get(), other.pkey_.get()) == 1;
  ERR_clear_error();
  return same;
}

std::string ios_key_data(const Key& key) {
  const std::string hex = hex_upper(key.public_key_der());
  std::string out;
  constexpr std::size_t kGroup = 8;
  constexpr std::size_t kLine = 8 * kGroup;
  for (std::size_t line = 0; line < hex.size(); line += kLine) {
    out += "  ";
    for (std::size_t g = line; g < hex.size() && g < line + kLine; g += kGroup) {
      if (g != line) out.push_back(' ');
      out.append(hex, g, kGroup);
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace scepter::pki
