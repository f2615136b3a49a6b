#include "scep/cert_rep.h"

#include <climits>
#include <utility>

#include <openssl/x509.h>

#include "pki/ptr.h"
#include "scep/cms_util.h"

namespace scepter::scep {
namespace {

std::string decimal(int value) { return std::to_string(value); }

Result<pki::Ptr<X509_CRL>> parse_crl(std::string_view der) {
  if (der.size() > LONG_MAX) return fail(invalid_argument("CRL too large"));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  pki::Ptr<X509_CRL> crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl) return fail(pki::last_error(Code::kInvalidArgument, "CertRep CRL is not DER"));
  return crl;
}

// The degenerate SignedData inside a SUCCESS envelope.
Result<std::string> success_content(const CertRepParams& params) {
  std::vector<X509_CRL*> crls;
  pki::Ptr<X509_CRL> crl;
  if (!params.crl_der.empty()) {
    ASSIGN_OR_RETURN(crl, parse_crl(params.crl_der));
    crls.push_back(crl.get());
  }
  if (params.certificates.empty() && crls.empty()) {
    return fail(invalid_argument("a SUCCESS CertRep needs a certificate or a CRL"));
  }
  return detail::degenerate(params.certificates, crls);
}

}  // namespace

Result<std::string> encode_cert_rep(const CertRepParams& params) {
  const AttributeTypes& types = attribute_types();
  if (params.transaction_id.empty() || params.recipient_nonce.empty()) {
    return fail(invalid_argument("a CertRep echoes a transactionID and a senderNonce"));
  }

  std::string content;  // PENDING and FAILURE: an empty OCTET STRING
  if (params.status == PkiStatus::kSuccess) {
    if (params.recipient_cert == nullptr) {
      return fail(invalid_argument("a SUCCESS CertRep needs the requester's certificate"));
    }
    ASSIGN_OR_RETURN(std::string inner, success_content(params));
    ASSIGN_OR_RETURN(content, detail::envelope(inner, params.recipient_cert, params.cipher));
  }

  std::string sender_nonce = params.sender_nonce;
  if (sender_nonce.empty()) {
    ASSIGN_OR_RETURN(sender_nonce, detail::random_bytes(kNonceSize));
  }

  std::vector<detail::Attribute> attrs = {
      {types.message_type.obj, V_ASN1_PRINTABLESTRING,
       decimal(static_cast<int>(MessageType::kCertRep))},
      {types.pki_status.obj, V_ASN1_PRINTABLESTRING, decimal(static_cast<int>(params.status))},
      {types.transaction_id.obj, V_ASN1_PRINTABLESTRING, params.transaction_id},
      {types.sender_nonce.obj, V_ASN1_OCTET_STRING, std::move(sender_nonce)},
      {types.recipient_nonce.obj, V_ASN1_OCTET_STRING, params.recipient_nonce},
  };
  if (params.status == PkiStatus::kFailure) {
    attrs.push_back(
        {types.fail_info.obj, V_ASN1_PRINTABLESTRING, decimal(static_cast<int>(params.fail_info))});
    if (!params.fail_info_text.empty()) {
      attrs.push_back({types.fail_info_text.obj, V_ASN1_UTF8STRING, params.fail_info_text});
    }
  }

  detail::SignSpec spec;
  spec.cert = params.signer_cert;
  spec.key = params.signer_key;
  spec.digest = params.digest;
  spec.include_cert = params.include_signer_cert;
  spec.signing_time = params.signing_time;
  return detail::sign_data(content, spec, attrs);
}

Result<std::string> encode_degenerate_certs(const std::vector<X509*>& certs,
                                            const std::vector<X509_CRL*>& crls) {
  if (certs.empty() && crls.empty()) return fail(invalid_argument("nothing to put in the PKCS#7"));
  return detail::degenerate(certs, crls);
}

}  // namespace scepter::scep
