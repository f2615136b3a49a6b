#include "pki/der_signer.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include "pki/crl_der.h"
#include "pki/io.h"
#include "pki/key_metrics.h"

namespace scepter::pki {
namespace {

Result<std::string> signature_algorithm(EVP_PKEY_CTX* pctx, EVP_PKEY* key, const EVP_MD* md) {
  unsigned char buf[256];
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, buf, sizeof buf),
      OSSL_PARAM_construct_end()};
  if (EVP_PKEY_CTX_get_params(pctx, params) == 1 && OSSL_PARAM_modified(&params[0]) &&
      params[0].return_size > 0 && params[0].return_size <= sizeof buf) {
    return std::string(reinterpret_cast<char*>(buf), params[0].return_size);
  }
  ERR_clear_error();
  int md_nid = md ? EVP_MD_get_type(md) : NID_undef;
  if (!md && EVP_PKEY_get_default_digest_nid(key, &md_nid) <= 0) {
    return fail(last_error("no default digest for the signing key"));
  }
  const int key_nid = EVP_PKEY_get_base_id(key);
  int sig_nid = NID_undef;
  if (OBJ_find_sigid_by_algs(&sig_nid, md_nid, key_nid) != 1) {
    return fail(invalid_argument("no signature algorithm for this digest and key"));
  }
  Ptr<X509_ALGOR> alg(X509_ALGOR_new());
  if (!alg || X509_ALGOR_set0(alg.get(), OBJ_nid2obj(sig_nid),
                              key_nid == EVP_PKEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, nullptr) != 1) {
    return fail(last_error("X509_ALGOR_set0"));
  }
  std::string der = to_der(i2d_X509_ALGOR, alg.get());
  if (der.empty()) return fail(last_error("encoding the signature algorithm"));
  return der;
}

std::size_t bit_string_size(std::size_t signature_len) {
  return der::header_size(signature_len + 1) + signature_len + 1;
}

}  // namespace

Result<DerSigner> DerSigner::start(EVP_PKEY* key, const EVP_MD* md, const char* what) {
  if (key == nullptr) return fail(invalid_argument(fmt::format("no key to sign the {}", what)));
  Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx) return fail(last_error("allocating a signing context"));
  if (EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key) != 1) {
    return fail(last_error(Code::kInvalidArgument, fmt::format("cannot sign the {}", what)));
  }
  ASSIGN_OR_RETURN(std::string alg, signature_algorithm(pctx, key, md));
  const int max = EVP_PKEY_get_size(key);
  if (max <= 0) return fail(last_error(fmt::format("cannot sign the {}", what)));
  return DerSigner(std::move(ctx), std::move(alg), static_cast<std::size_t>(max), what,
                   key_operation_histogram("sign", what));
}

Result<DerSigner> DerSigner::copy() const {
  Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), ctx_.get()) != 1) {
    return fail(last_error(fmt::format("copying the signing context of the {}", what_)));
  }
  return DerSigner(std::move(ctx), algorithm_, max_signature_, what_, *timing_);
}

std::size_t DerSigner::outer_room(std::size_t tbs_len) const {
  return der::header_size(tbs_len + algorithm_.size() + bit_string_size(max_signature_));
}

Result<std::string> DerSigner::finish(std::string out, std::size_t room) {
  CA_ASSERT(out.size() >= room, "DerSigner::finish without room");
  const std::size_t tbs_len = out.size() - room;
  out.reserve(room + tbs_len + algorithm_.size() + bit_string_size(max_signature_));
  std::string sig(max_signature_, '\0');
  std::size_t sig_len = max_signature_;
  const metrics::ScopedTimer timed(*timing_);
  if (EVP_DigestSign(ctx_.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(out.data() + room), tbs_len) != 1) {
    return fail(last_error(fmt::format("signing the {}", what_)));
  }
  out.append(algorithm_);
  char header[der::kMaxHeaderSize];
  out.append(header, der::put_header(der::kBitString, sig_len + 1, header));
  out.push_back('\0');  // no unused bits
  out.append(sig.data(), sig_len);
  const std::size_t outer_content = out.size() - room;
  const std::size_t start = room - der::header_size(outer_content);
  der::put_header(der::kSequence, outer_content, out.data() + start);
  if (start != 0) out.erase(0, start);
  return out;
}

}  // namespace scepter::pki
