// libFuzzer target: bytes from the network into the SCEP PKIOperation decoders.
//
// The input goes to decode_pki_message() as a POST body (and through the two steps
// ScepService takes: PendingPkiMessage::parse(), the recipient checks, open()) and, as
// text, to decode_get_message() (whose output is decoded again, as a GET request would
// be).
// Since a requester signs with a self-signed certificate of its own, whatever sits
// inside the envelope is attacker-chosen too: the payload decoders get the bytes
// directly. So do the client-side decoders, which read what an upstream CA sends.
// The CA key and certificate are made once per process.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/ptr.h"
#include "scep/client.h"
#include "scep/payload.h"
#include "scep/request.h"

namespace {

struct Ca {
  scepter::pki::Ptr<EVP_PKEY> key;
  scepter::pki::Ptr<X509> cert;
};

Ca make_ca() {
  Ca ca;
  ca.key.reset(EVP_RSA_gen(2048));
  scepter::pki::Ptr<X509_NAME> name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("fuzz CA"), -1, -1, 0);
  auto cert = scepter::scep::make_self_signed_signer(ca.key.get(), name.get());
  if (cert) ca.cert = std::move(*cert);
  return ca;
}

const Ca& ca() {
  static const Ca instance = make_ca();
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Ca& c = ca();
  std::string_view bytes(reinterpret_cast<const char*>(data), size);

  if (size > scepter::scep::kMaxPkiMessageSize) return 0;  // ScepService answers 413
  const std::uint64_t decryptions = scepter::scep::envelope_decryptions();
  auto post = scepter::scep::decode_pki_message(bytes, c.key.get(), c.cert.get());
  // At most one private-key operation per message, whatever it holds.
  if (scepter::scep::envelope_decryptions() - decryptions > 1) __builtin_trap();
  if (!post && post.error().replyable) {
    // A replyable error must carry what the FAILURE CertRep echoes.
    if (post.error().transaction_id.empty() || post.error().sender_nonce.empty()) __builtin_trap();
  }

  auto pending = scepter::scep::PendingPkiMessage::parse(bytes);
  if (pending) {
    (void)pending->recipient_text();
    (void)pending->not_addressed_to_us();
    if (pending->addressed_to(c.cert.get())) {
      (void)std::move(*pending).open(c.key.get(), c.cert.get());
    }
  }

  auto get = scepter::scep::decode_get_message(bytes);
  if (get) {
    auto again = scepter::scep::decode_pki_message(*get, c.key.get(), c.cert.get());
    (void)again;
  }

  (void)scepter::scep::decode_pkcs10(bytes);
  (void)scepter::scep::decode_issuer_and_subject(bytes);
  (void)scepter::scep::decode_issuer_and_serial(bytes);
  (void)scepter::scep::decode_certs_only(bytes);
  (void)scepter::scep::decode_cert_rep(bytes, c.key.get(), c.cert.get());
  return 0;
}
