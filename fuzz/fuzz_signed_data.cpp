// libFuzzer target: the two ways a PKIMessage is read (scep/request.h, "How the signer
// certificate is read"). Every input goes through both the split path (signed_data.h,
// the signature checked by request.cpp) and OpenSSL alone, with the CA below as the
// recipient; the two must give the same answer. The one difference the design allows:
// the split path takes the signer certificate as received and walks its fields without
// decoding them, so where the answers differ, OpenSSL must refuse that certificate or
// encode it differently from the bytes received.
// The DER readers of signed_data.h are also held to what OpenSSL reads.
//
// Valid signatures cannot be found by mutation, so the seeds in fuzz/corpus/signed_data
// are real requests to this CA (made with the key below: run the target with
// SCEPTER_FUZZ_WRITE_SEEDS=DIR to write them again); mutations then change what the
// signature does not cover (certificates, algorithms, unsigned fields, framing).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pki/ptr.h"
#include "scep/client.h"
#include "scep/cms_util.h"
#include "scep/request.h"
#include "scep/signed_data.h"
#include "scep/test_fixtures.h"

namespace {

using scepter::pki::Ptr;
namespace scep = scepter::scep;

// A fixed CA, so that the seeds stay addressed to it. A test key, used nowhere else.
constexpr char kCaKey[] = R"(-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDAoAebk3Xe0AIE
jnuQILGZFh21MZmuAXBJ0IzwUTV18OCcYj0l1U/udY8ttSh3nYMP11c+qKkaaZKw
EF/Y0V/HNRqhhNu48YcPyHWQMokO6GKxuFVBgGQCeuPPF7Cnw0lXROlmnbTk54tP
Wd9UuX2LR0qwiTNrA1sQXkG37EizrzJ4hLVeX6hAK8D2SJ+22dyktNUTGDPA6vTd
yEPrKZPahWAHrEyvo6jD3LTaf3N01PbNZnjTBXk0uICoIo2uJd4VsgXm29+6xJUC
QsRyYgPvmwFIBQgaC1reLLBOo3AcOSevFKFzbK/VKbcl7TuhTv3bp6enuwlwB/G7
2UG/YAsfAgMBAAECggEAJVmCUCDGHKeBlKeZ/ubP+OqIZR9SeKJvxuhIw7pDXvSP
YNNNnv3fC1JBKnAzggoJJTOwh4ZFj8kDt97c7toeM66w1LvBrPksIpvQa97Yo4rc
xDAFW/eMrMxuSrQBvW3I1UKX7R1MO4xH/2FiQ/fZh32R1mwsC6ZxbFmSbZrDuA88
al2x1VPCY5Tm3eJDGBiQzpE6OxeMDBe4lyZioHy2t2UGvJl0sqzvVB6rPjX5E3qy
yDViP5fYfxqhfL90FhsjoSDJyvyAC+IWLNUfFX/CvoG0/IblfqgqnmRv9hRVnxum
z5BqZ9W1iP3pSW+y+Y02lU/vVs4FfPTwXxMW9ukHhQKBgQD2TBzD5e9pV1gE9DEt
XcoJSo1Rt3KNaRvhbhP+pI7RWnu1a4XRZMFmIr5eWbez6c/nE/792HMVSpjGJ9sK
KXhP1jtPJTlj0Ey8YkJ7cL+tmjWRtwzNNFE/abh5PNl9KkeFi7XeejIDza80LPgG
ERLYKbaV7+7SyYP4Fn5BGx+9zQKBgQDINqNEmcw0uqXF9uNXLzdaamGELXKZGsMq
i8HkvaC6lKwJhfnp4QlIPSLSs/dBe6c6ZPsWg2N/6Gi0PP6KKkUlfEjvRPAN0AOq
WiupCbc0Apvjs2vDuaADXqKab+7sE5yZuRj/gYgqIvK5ijUxglSpZXVnCi0B0bBh
J1XnpqigmwKBgG+0/abr9rX0Y3t7tYI585RbN9VEOrRgY8DOyErKH+xb+ZfC+KKL
7BuCzozEbEkxVpYbv58qOKgDeV8GXJYzUNoE9EllPK5En0kh171c2dLHClzYhPnd
LKxyKrTyIEJglqe/QfFxwpVvCHPFoYg+3ikkYieG9u6rbytqKEEnKDJRAoGAN7ak
lklp/t5VlRIPz0oPUDS8MCjpc9tzpdpAOWPfXyxR91B16/Q4PgbtMs7rpig/r8s7
59bmEEjfIhC7ED2VAkpkjViUqHNTIct3zNEsTufO830RJuT3txhVjT5KsRz//fL5
Fti3yGnzO1hPVxiacI0QL30wawor1803ZYAF+rMCgYAakUUva0SnhOAbO/fe1ReQ
oHLsOLAdCF4r0aIsWVde1QBTxgZbR/ZD6bgsloHQwbwlM3WhDrhpKnbksvFMrk5m
QqzKYt7sFpAhlDI9DtrpkBuRW7ORM6SRqKNWh+Dr39fhj/6VeUH/Fgu5Zo+v0Snn
okCGnIXiF6S70ABNILmCOA==
-----END PRIVATE KEY-----)";
constexpr char kCaCert[] = R"(-----BEGIN CERTIFICATE-----
MIIDDTCCAfWgAwIBAgICEJIwDQYJKoZIhvcNAQELBQAwHjEcMBoGA1UEAwwTZnV6
eiBzaWduZWQtZGF0YSBDQTAgFw0yNjEyMDQyMjQ1MzZaGA8yMTI2MTExMDIyNDUz
NlowHjEcMBoGA1UEAwwTZnV6eiBzaWduZWQtZGF0YSBDQTCCASIwDQYJKoZIhvcN
AQEBBQADggEPADCCAQoCggEBAMCgB5uTdd7QAgSOe5AgsZkWHbUxma4BcEnQjPBR
NXXw4JxiPSXVT+51jy21KHedgw/XVz6oqRppkrAQX9jRX8c1GqGE27jxhw/IdZAy
iQ7oYrG4VUGAZAJ6488XsKfDSVdE6WadtOTni09Z31S5fYtHSrCJM2sDWxBeQbfs
SLOvMniEtV5fqEArwPZIn7bZ3KS01RMYM8Dq9N3IQ+spk9qFYAesTK+jqMPctNp/
c3TU9s1meNMFeTS4gKgija4l3hWyBebb37rElQJCxHJiA++bAUgFCBoLWt4ssE6j
cBw5J68UoXNsr9UptyXtO6FO/dunp6e7CXAH8bvZQb9gCx8CAwEAAaNTMFEwHQYD
VR0OBBYEFA7Qs77kXwGfSrlbcFWl0+cM9Zs1MB8GA1UdIwQYMBaAFA7Qs77kXwGf
SrlbcFWl0+cM9Zs1MA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEB
AAOToPJ9OxB3yPXHVeGcmZkei9WFcxVqtzqRWsdN6Ddh0wkZJGwsKlkcswr9PE8o
UYetpbJMGaxfdxbzTsuIPaMUskuTnnNQKk/3vc1Z5IG08eUJvXf7/Xjl96v3/Vn+
CLuu04MAesyPrgSMxyw8ourujN/SeV24H6CheVEHyYKyQ6ypqWNE1/OevVDIGZXc
Rq1i+NBXY5grsZCk3Ik6IXUY6ZU4pP4fI5dysdIn0ycKgU+m7F1Md3R3AbIqa0xA
gjYzQcHJ0BIyu3qjNaouZwVErgF/YTRvp0yOnoUaBorLx/0JfvcKVapfH5wMbmEu
CXPE02XTaol5QX4nKtqqkdI=
-----END CERTIFICATE-----)";

struct Ca {
  Ptr<EVP_PKEY> key;
  Ptr<X509> cert;
};

const Ca& ca() {
  static const Ca instance = [] {
    Ca c;
    Ptr<BIO> k(BIO_new_mem_buf(kCaKey, -1));
    Ptr<BIO> x(BIO_new_mem_buf(kCaCert, -1));
    c.key.reset(PEM_read_bio_PrivateKey(k.get(), nullptr, nullptr, nullptr));
    c.cert.reset(PEM_read_bio_X509(x.get(), nullptr, nullptr, nullptr));
    if (!c.key || !c.cert) __builtin_trap();
    return c;
  }();
  return instance;
}

void write_seeds(const std::string& dir) {
  const Ca& c = ca();
  Ptr<EVP_PKEY> client(EVP_RSA_gen(2048));
  Ptr<X509_REQ> csr = scep::testing::make_csr(client.get(), "fuzz client");
  auto signer = scep::make_self_signed_signer(client.get(), scep::testing::name("fuzz").get());
  struct Variant {
    scep::DigestAlg digest;
    scep::CipherAlg cipher;
    bool ber;
  };
  const Variant variants[] = {
      {scep::DigestAlg::kSha256, scep::CipherAlg::kAes128Cbc, false},
      {scep::DigestAlg::kSha1, scep::CipherAlg::kDes3Cbc, false},
      {scep::DigestAlg::kMd5, scep::CipherAlg::kDes3Cbc, false},
      {scep::DigestAlg::kSha512, scep::CipherAlg::kAes256Cbc, false},
      {scep::DigestAlg::kSha256, scep::CipherAlg::kAes128Cbc, true},
  };
  int n = 0;
  for (const Variant& v : variants) {
    scep::PkiRequestParams rq;
    rq.payload = scep::testing::csr_der(csr.get());
    rq.signer_cert = signer->get();
    rq.signer_key = client.get();
    rq.recipient_cert = c.cert.get();
    rq.transaction_id = "FUZZ" + std::to_string(n);
    rq.digest = v.digest;
    rq.cipher = v.cipher;
    rq.ber = v.ber;
    auto msg = scep::encode_pki_request(rq);
    if (!msg) __builtin_trap();
    std::ofstream(dir + "/request" + std::to_string(n++) + ".der", std::ios::binary) << *msg;
  }
}

// The certificate as OpenSSL encodes it after reading `der`; empty when it refuses it.
std::string openssl_encoding(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Ptr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x || p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) return {};
  unsigned char* out = nullptr;
  const int n = i2d_X509(x.get(), &out);
  std::string encoded = n > 0 ? std::string(reinterpret_cast<char*>(out), n) : std::string();
  OPENSSL_free(out);
  return encoded;
}

void same_answer(std::string_view msg) {
  const Ca& c = ca();
  auto open = [&](bool openssl_only) -> scep::DecodeResult {
    auto pending = scep::PendingPkiMessage::parse(msg, openssl_only);
    if (!pending) return tl::unexpected(std::move(pending.error()));
    return std::move(*pending).open(c.key.get(), c.cert.get());
  };
  const scep::DecodeResult fast = open(false);
  const scep::DecodeResult full = open(true);
  bool same = fast.has_value() == full.has_value();
  if (same && fast.has_value()) {
    same = fast->type == full->type && fast->transaction_id == full->transaction_id &&
           fast->sender_nonce == full->sender_nonce && fast->digest == full->digest &&
           fast->cipher == full->cipher && fast->payload == full->payload &&
           fast->signing_time == full->signing_time && fast->signer.der == full->signer.der &&
           fast->signer.issuer_and_serial == full->signer.issuer_and_serial &&
           EVP_PKEY_eq(fast->signer.key.get(), full->signer.key.get()) == 1;
  } else if (same) {
    same = fast.error().fail_info == full.error().fail_info &&
           fast.error().replyable == full.error().replyable &&
           fast.error().status.message() == full.error().status.message();
  }
  if (!same) {
    // Only where the split path read a signer certificate that OpenSSL refuses, or
    // would encode differently from the bytes received.
    const std::string& der = fast ? fast->signer.der : fast.error().signer.der;
    if (der.empty() || openssl_encoding(der) == der) __builtin_trap();
  }
  ERR_clear_error();
}

// What the DER readers find is what OpenSSL finds, whenever OpenSSL reads the input too.
void readers_agree(std::string_view bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const long len = static_cast<long>(bytes.size());
  if (auto split = scep::detail::split_signed_data(bytes)) {
    const unsigned char* p = data;
    Ptr<CMS_ContentInfo> whole(d2i_CMS_ContentInfo(nullptr, &p, len));
    if (whole && p == data + len) {
      auto without = scep::detail::parse_cms(split->without_certs);
      if (!without) __builtin_trap();
      scep::detail::X509Stack certs(CMS_get1_certs(whole.get()));
      const int count = certs ? sk_X509_num(certs.get()) : 0;
      if (count != static_cast<int>(split->certs.size())) __builtin_trap();
      // OpenSSL keeps each certificate's TBSCertificate as received but encodes the
      // rest again: compare its encodings of both.
      for (int i = 0; i < count; ++i) {
        unsigned char* der = nullptr;
        const int n = i2d_X509(sk_X509_value(certs.get(), i), &der);
        const bool same = n > 0 && std::string_view(reinterpret_cast<char*>(der), n) ==
                                       openssl_encoding(split->certs[static_cast<std::size_t>(i)]);
        OPENSSL_free(der);
        if (!same) __builtin_trap();
      }
    }
  }
  if (auto fields = scep::detail::certificate_fields(bytes)) {
    const unsigned char* p = data;
    Ptr<X509> x(d2i_X509(nullptr, &p, len));
    if (x && p == data + len) {
      const unsigned char* name = nullptr;
      std::size_t name_len = 0;
      if (X509_NAME_get0_der(X509_get_issuer_name(x.get()), &name, &name_len) != 1 ||
          fields->issuer != std::string_view(reinterpret_cast<const char*>(name), name_len)) {
        __builtin_trap();
      }
    }
  }
  ERR_clear_error();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("SCEPTER_FUZZ_WRITE_SEEDS")) write_seeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > scep::kMaxPkiMessageSize) return 0;  // ScepService answers 413
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  readers_agree(bytes);
  same_answer(bytes);
  return 0;
}
