// CertificateServer: what the HTTPS listener and EST need of a certificate server — the
// listener's own certificate, the CA certificates clients are to trust, who a client
// is, and keys made for clients (serverkeygen).

#include <algorithm>

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/server_runtime.h"
#include "common/log.h"
#include "pki/sealed_box.h"

namespace scepter::ca {
namespace {

// The attribute of a stored request that holds the key serverkeygen made for it, sealed.
// An OID under the UUID arc 2.25 (ITU-T X.667): no registration needed, no collision.
constexpr const char* kSealedKeyAttribute = "2.25.242283380506894479924815571924417891606";

// A key of the kind `hint` is (the key of the client's request says what it wants).
Result<pki::Key> key_like(const pki::Key& hint) {
  const int bits = hint.bits();
  if (hint.is_rsa() && (bits == 2048 || bits == 3072 || bits == 4096)) {
    return pki::Key::generate_rsa(bits);
  }
  if (hint.is_ec() && (bits == 256 || bits == 384)) return pki::Key::generate_ec(bits);
  return fail(invalid_argument(
      "serverkeygen makes RSA keys of 2048, 3072 or 4096 bits and EC keys on P-256 or P-384: "
      "the request's key says which (" +
      pki::key_description(hint) + " is none of them)."));
}

}  // namespace

Result<pki::Certificate> CertificateServer::https_certificate(
    const pki::Key& key, const std::vector<std::string>& dns_names,
    const std::vector<std::string>& ip_addresses, const std::string& node) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  if (rt->forwarder || !rt->issuer) {
    return fail(unavailable("certificate server " + label_ + " is an RA: it issues nothing"));
  }
  const ServiceNames names{dns_names, ip_addresses, std::string(kMetaHttpsServerCert) + ":" + node};
  // Serialised with other issuing by this server's own certificates: the stored one is
  // read, checked and replaced in one step.
  MutexLock lock(rt->request_mu);
  return service_certificate(*rt, config(), key, kHttpsServerCert, nullptr, &names);
}

Result<std::vector<pki::Certificate>> CertificateServer::ca_chain() const {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  std::vector<pki::Certificate> chain;
  // An RA's own certificate is not a CA's: its clients trust the issuing CA's chain.
  if (!rt->forwarder) chain.push_back(*rt->ca_cert);
  chain.insert(chain.end(), rt->upper_chain.begin(), rt->upper_chain.end());
  if (chain.empty()) return fail(unavailable("certificate server " + label_ + " has no CA chain"));
  return chain;
}

Result<Signer> CertificateServer::classify_client(std::string_view der,
                                                  std::optional<pki::Certificate>& cert) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  return classify_signer(*rt, der, cert);
}

Result<ServerKeygenOutcome> CertificateServer::server_keygen(const pki::Csr& request,
                                                             const ScepRequest& scep) {
  auto rt = runtime();
  if (!rt) return fail(unavailable("certificate server " + label_ + " is not enabled"));
  if (scep.transaction_id.empty())
    return fail(invalid_argument("serverkeygen needs a transaction"));
  ASSIGN_OR_RETURN(SigningIdentity identity, signing_identity());
  // The key SCEP requests are decrypted with: every node serving this CA holds it.
  const pki::Key& keeper = identity.encryption_key ? *identity.encryption_key : identity.key;
  const std::string& tid = scep.transaction_id;

  // A request stored for this transaction holds its key.
  auto stored = rt->store->request_by_transaction(tid);
  if (stored.has_value()) {
    auto csr = pki::Csr::parse(stored->csr_der);
    std::optional<std::string> box;
    if (csr.has_value()) box = csr->octet_attribute(kSealedKeyAttribute);
    if (!box) {
      return ServerKeygenOutcome{
          scep_failure(ScepFailInfo::kBadRequest,
                       "The transactionID belongs to a request without a key made here.",
                       stored->id),
          std::nullopt};
    }
    auto der = pki::unseal(*box, keeper, tid);
    if (!der.has_value()) {
      if (der.error().code() != Code::kInvalidArgument) return fail(der.error());
      log::warn("certificate server {}: the key kept for request {} does not open: {}", label_,
                stored->id, der.error().message());
      return ServerKeygenOutcome{
          scep_failure(ScepFailInfo::kBadRequest,
                       "The key kept for this request no longer opens (the CA's key changed); "
                       "send a new request.",
                       stored->id),
          std::nullopt};
    }
    ASSIGN_OR_RETURN(pki::Key key, pki::Key::from_pkcs8_der(*der));
    OPENSSL_cleanse(der->data(), der->size());
    ASSIGN_OR_RETURN(ScepOutcome outcome, scep_poll(tid));
    if (outcome.status != ScepOutcome::Status::kSuccess) {
      return ServerKeygenOutcome{std::move(outcome), std::nullopt};
    }
    return ServerKeygenOutcome{std::move(outcome), std::move(key)};
  }
  if (stored.error().code() != Code::kNotFound) return fail(stored.error());

  if (making_key_.exchange(true)) {
    return fail(unavailable("certificate server " + label_ +
                            " is making another key; ask again in a moment"));
  }
  auto key = key_like(request.public_key());
  making_key_ = false;
  if (!key.has_value()) {
    if (key.error().code() != Code::kInvalidArgument) return fail(key.error());
    return ServerKeygenOutcome{scep_failure(ScepFailInfo::kBadAlg, key.error().message()),
                               std::nullopt};
  }
  std::string box;
  {
    ASSIGN_OR_RETURN(std::string der, key->to_pkcs8_der());
    auto sealed = pki::seal(der, keeper, tid);
    OPENSSL_cleanse(der.data(), der.size());
    if (!sealed.has_value()) return fail(sealed.error());
    box = std::move(*sealed);
    // Nothing is stored for a key that could not be had back.
    auto opened = pki::unseal(box, keeper, tid);
    if (!opened.has_value()) {
      return fail(unavailable("the CA's key cannot keep a key made for a client: " +
                              opened.error().message()));
    }
    OPENSSL_cleanse(opened->data(), opened->size());
  }
  std::vector<const X509_EXTENSION*> extensions;
  extensions.reserve(request.requested_extensions().size());
  for (const auto& ext : request.requested_extensions()) extensions.push_back(ext.get());
  pki::CsrSpec spec{request.subject(), *key};
  spec.hash = std::max(config().hash, pki::Hash::kSha256);
  spec.challenge_password = request.challenge_password().value_or("");
  spec.extensions = std::move(extensions);
  spec.octet_attributes.emplace_back(kSealedKeyAttribute, std::move(box));
  ASSIGN_OR_RETURN(pki::Csr built, pki::make_csr(spec));
  ASSIGN_OR_RETURN(ScepOutcome outcome, scep_enroll(built, scep));
  if (outcome.status != ScepOutcome::Status::kSuccess) {
    return ServerKeygenOutcome{std::move(outcome), std::nullopt};
  }
  return ServerKeygenOutcome{std::move(outcome), std::move(*key)};
}

bool CertificateServer::one_time_password_matches(std::string_view password) const {
  auto rt = runtime();
  return rt && rt->otp->matches(password);
}

}  // namespace scepter::ca
