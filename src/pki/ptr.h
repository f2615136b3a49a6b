#pragma once
// Ownership of OpenSSL handles, modelled on bssl::UniquePtr. Every handle has an owner
// from the line it is born; nothing outside pki/ calls *_free by hand.
//
// Name conventions of OpenSSL: get0 borrows, get1/new/dup hand us ownership, set0/add0
// take it, set1/add1 copy. A transfer happens only on success, so release() comes after
// the check.

#include <memory>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/status.h"

namespace scepter::pki {

template <class T>
struct Free;
#define SCEPTER_PKI_FREE(T, fn)            \
  template <>                              \
  struct Free<T> {                         \
    void operator()(T* p) const { fn(p); } \
  }
SCEPTER_PKI_FREE(X509, X509_free);
SCEPTER_PKI_FREE(X509_REQ, X509_REQ_free);
SCEPTER_PKI_FREE(X509_CRL, X509_CRL_free);
SCEPTER_PKI_FREE(X509_REVOKED, X509_REVOKED_free);
SCEPTER_PKI_FREE(X509_NAME, X509_NAME_free);
SCEPTER_PKI_FREE(X509_EXTENSION, X509_EXTENSION_free);
SCEPTER_PKI_FREE(X509_STORE, X509_STORE_free);
SCEPTER_PKI_FREE(X509_STORE_CTX, X509_STORE_CTX_free);
SCEPTER_PKI_FREE(X509_ALGOR, X509_ALGOR_free);
SCEPTER_PKI_FREE(EVP_PKEY, EVP_PKEY_free);
SCEPTER_PKI_FREE(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
SCEPTER_PKI_FREE(EVP_MD_CTX, EVP_MD_CTX_free);
SCEPTER_PKI_FREE(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free);
SCEPTER_PKI_FREE(BIO, BIO_free_all);
SCEPTER_PKI_FREE(BIGNUM, BN_free);
// ASN1_INTEGER, ASN1_TIME, ASN1_OCTET_STRING... are all ASN1_STRING.
SCEPTER_PKI_FREE(ASN1_STRING, ASN1_STRING_free);
SCEPTER_PKI_FREE(ASN1_TYPE, ASN1_TYPE_free);
SCEPTER_PKI_FREE(AUTHORITY_KEYID, AUTHORITY_KEYID_free);
SCEPTER_PKI_FREE(CMS_ContentInfo, CMS_ContentInfo_free);
SCEPTER_PKI_FREE(PKCS7, PKCS7_free);
SCEPTER_PKI_FREE(PKCS12, PKCS12_free);
SCEPTER_PKI_FREE(X509_NAME_ENTRY, X509_NAME_ENTRY_free);
SCEPTER_PKI_FREE(OSSL_ENCODER_CTX, OSSL_ENCODER_CTX_free);
SCEPTER_PKI_FREE(OSSL_DECODER_CTX, OSSL_DECODER_CTX_free);
SCEPTER_PKI_FREE(ASN1_OBJECT, ASN1_OBJECT_free);
SCEPTER_PKI_FREE(X509_PUBKEY, X509_PUBKEY_free);
SCEPTER_PKI_FREE(X509_ATTRIBUTE, X509_ATTRIBUTE_free);
SCEPTER_PKI_FREE(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free);
SCEPTER_PKI_FREE(BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free);
SCEPTER_PKI_FREE(GENERAL_NAME, GENERAL_NAME_free);
SCEPTER_PKI_FREE(DIST_POINT, DIST_POINT_free);
// Stacks: CRL_DIST_POINTS is STACK_OF(DIST_POINT), GENERAL_NAMES is STACK_OF(GENERAL_NAME).
SCEPTER_PKI_FREE(STACK_OF(DIST_POINT), CRL_DIST_POINTS_free);
SCEPTER_PKI_FREE(STACK_OF(GENERAL_NAME), GENERAL_NAMES_free);
template <>
struct Free<STACK_OF(X509)> {
  void operator()(STACK_OF(X509) * p) const { sk_X509_pop_free(p, X509_free); }
};
template <>
struct Free<STACK_OF(X509_EXTENSION)> {
  void operator()(STACK_OF(X509_EXTENSION) * p) const {
    sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free);
  }
};
#undef SCEPTER_PKI_FREE

template <class T>
using Ptr = std::unique_ptr<T, Free<T>>;

// Buffers OpenSSL allocates for the caller (i2d output, BN_bn2hex, ASN1_STRING_to_UTF8).
struct OpenSslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};
template <class T>
using OpenSslBuf = std::unique_ptr<T, OpenSslFree>;

inline Ptr<X509> up_ref(X509* p) {
  if (p) X509_up_ref(p);
  return Ptr<X509>(p);
}
inline Ptr<EVP_PKEY> up_ref(EVP_PKEY* p) {
  if (p) EVP_PKEY_up_ref(p);
  return Ptr<EVP_PKEY>(p);
}

// Drains the OpenSSL error queue into one message: "what: reason; reason".
// Returns kInternal; callers that know better wrap it in another code.
Status last_error(std::string_view what);
// Same text, with the code the caller chooses (e.g. kInvalidArgument for bad input).
Status last_error(Code code, std::string_view what);

}  // namespace scepter::pki
