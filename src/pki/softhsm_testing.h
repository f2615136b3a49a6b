#pragma once
// Tests only: a SoftHSM2 token store of the test's own (a temporary directory and a
// configuration that SOFTHSM2_CONF points at, since SoftHSM2 reads it when the module is
// initialised) with tokens made by `softhsm2-util`, the way an operator makes them.
// SoftHSM2 is a real PKCS#11 module; it stands in for the hardware tokens that cannot
// run here.

#include <cstdlib>
#include <filesystem>
#include <string>

#include "pki/test_support.h"
#include "pki/token.h"

namespace scepter::pki::test {

inline constexpr const char* kSoftHsmModule = "/usr/lib/softhsm/libsofthsm2.so";
inline constexpr const char* kSoftHsmUserPin = "1234";
inline constexpr const char* kSoftHsmSoPin = "5678";

inline bool softhsm_installed() {
  return std::filesystem::exists(kSoftHsmModule) && run("command -v softhsm2-util").status == 0;
}

class SoftHsm {
 public:
  SoftHsm() {
    std::filesystem::create_directories(dir_.file("tokens"));
    conf_ = dir_.write("softhsm2.conf", "directories.tokendir = " + dir_.file("tokens") +
                                            "\nobjectstore.backend = file\nlog.level = ERROR\n"
                                            "slots.removable = false\n");
    setenv("SOFTHSM2_CONF", conf_.c_str(), 1);
  }
  // A new token labelled `label` in the first free slot, with the user PIN 1234.
  // Returns the output of softhsm2-util (empty on success).
  std::string init_token(const std::string& label) const {
    const Output out =
        run("SOFTHSM2_CONF=" + conf_ + " softhsm2-util --init-token --free --label " + label +
            " --so-pin " + kSoftHsmSoPin + " --pin " + kSoftHsmUserPin);
    return out.status == 0 ? std::string() : out.text;
  }
  // How a test names the token labelled `label` (made by init_token) to Token::open().
  static TokenSpec spec(const std::string& label) {
    return TokenSpec{.name = "token0",
                     .module = kSoftHsmModule,
                     .slot = {},
                     .label = label,
                     .pin = kSoftHsmUserPin};
  }
  // What `pkcs11-tool --list-objects` shows of the token's objects after logging in.
  std::string list_objects(const std::string& label) const {
    return run("SOFTHSM2_CONF=" + conf_ + " pkcs11-tool --module " + kSoftHsmModule +
               " --token-label " + label + " --login --pin " + kSoftHsmUserPin + " --list-objects")
        .text;
  }
  std::string token_dir() const { return dir_.file("tokens"); }

 private:
  TempDir dir_;
  std::string conf_;
};

}  // namespace scepter::pki::test
