#pragma once
// Token: a PKCS#11 token (an HSM, a smart card, a USB token, SoftHSM2) whose RSA keys
// sign and decrypt without their private halves ever entering this process, the Linux
// counterpart of IOS's USB-token key storage (`crypto key generate rsa ... on usbtoken0:`).
//
// A Token is opened once: the module (the vendor's PKCS#11 shared library) is loaded
// through libp11, the token is found (by slot id, else by its label, else the first slot
// with an initialised token), a read-write session is opened and the user logs in with
// the PIN. Keys are found by their PKCS#11 label (CKA_LABEL) and come back as pki::Keys
// whose EVP_PKEY hands each private operation (C_Sign, C_Decrypt) to the token, so every
// signing and CMS path that takes a pki::Key works with them unchanged.
//
// Keys generated here are RSA, made by the token itself (C_GenerateKeyPair) with the
// private key sensitive and never extractable: no command can read it back. An RSA key
// imported here is written with the same attributes (C_CreateObject). EC keys are not
// offered (kInvalidArgument): libp11 0.4 cannot make them with those guarantees.
//
// Failures: a module that cannot be loaded, a missing token or key: kNotFound; a wrong
// or locked PIN: kPermissionDenied; the token failing an operation (removed, its store
// unreadable): kUnavailable. Messages say which token and what the token answered.
//
// Threads: every method may be called from any thread. Keys handed out may sign and
// decrypt from several threads at once (libp11 serialises what the module needs); they
// keep the Token alive, so a key outlives the Token object that found it.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "pki/key.h"

namespace scepter::pki {

struct TokenSpec {
  std::string name;                   // how scepterd calls it ("token0"); names its keys' device
  std::string module;                 // path of the PKCS#11 module
  std::optional<std::uint64_t> slot;  // the slot id, when the token is chosen by slot
  std::string label;                  // the token's label, when chosen by label
  std::string pin;                    // the user PIN
};

// What `show crypto pki token` reports, read when asked.
struct TokenInfo {
  std::string label;
  std::string manufacturer;
  std::string model;
  std::string serial;
  std::uint64_t slot = 0;
  std::string slot_description;
  bool removable = false;
  bool read_only = false;
  bool logged_in = false;
  bool pin_count_low = false;  // a wrong PIN was entered since the last good one
  bool pin_final_try = false;  // one more wrong PIN locks the token
  bool pin_locked = false;
};

class Token : public std::enable_shared_from_this<Token> {
 public:
  // Loads the module, finds the token, logs in. See the file comment for the codes.
  static Result<std::shared_ptr<Token>> open(const TokenSpec& spec);
  ~Token();
  Token(const Token&) = delete;
  Token& operator=(const Token&) = delete;

  const std::string& name() const { return spec_.name; }
  const TokenSpec& spec() const { return spec_; }
  // Read from the module each time: a token pulled out shows as such.
  Result<TokenInfo> info() const;

  // A new RSA key pair made on the token under `key_label`, which must not be taken.
  // `bits`: 1024 to 4096 (what tokens commonly make).
  Result<Key> generate_rsa(const std::string& key_label, int bits);
  // Writes `key` (an RSA key pair, 1024 to 4096 bits) onto the token under `key_label`,
  // which must not be taken, never extractable from then on; returns it as the token's.
  Result<Key> import_rsa(const std::string& key_label, const Key& key);
  // The private key labelled `key_label`. kNotFound when there is none.
  Result<Key> find(const std::string& key_label);
  // The labels of the private keys on the token, sorted.
  Result<std::vector<std::string>> labels();
  // Deletes the key pair (private and public objects). kNotFound when there is none.
  Status remove(const std::string& key_label);

 private:
  struct Module;  // libp11's context and slots
  Token(TokenSpec spec, std::unique_ptr<Module> module);
  Result<Key> find_locked(const std::string& key_label) REQUIRES(mu_);
  // libp11 0.4 keeps deleted keys in its lists: the CKA_IDs of those we deleted.
  bool removed(const void* id, std::size_t id_len) const REQUIRES(mu_);

  const TokenSpec spec_;
  mutable Mutex mu_;  // libp11's slot and key lists are not safe to walk concurrently
  std::unique_ptr<Module> module_ PT_GUARDED_BY(mu_);
  std::set<std::string> removed_ids_ GUARDED_BY(mu_);
};

}  // namespace scepter::pki
