#include "ca/otp_store.h"

#include "ca/server_runtime.h"
#include "common/parse.h"
#include "pki/digest.h"
#include "pki/encoding.h"

namespace scepter::ca {
namespace {

std::string sha256_hex(std::string_view s) {
  return pki::hex_upper(pki::digest(pki::Hash::kSha256, s));
}

}  // namespace

Status OtpStore::load() {
  ASSIGN_OR_RETURN(std::optional<std::string> value, store_.meta(kMetaOtp));
  MutexLock lock(mu_);
  stored_.clear();
  digest_.clear();
  if (!value.has_value()) return ok_status();
  const auto space = value->find(' ');
  if (space == std::string::npos) return ok_status();
  auto expiry = parse_decimal<std::int64_t>(std::string_view(*value).substr(space + 1));
  if (!expiry.has_value()) return ok_status();  // unreadable: no password
  stored_ = *value;
  digest_ = value->substr(0, space);
  expires_ = from_unix(*expiry);
  return ok_status();
}

Result<OneTimePassword> OtpStore::generate(int minutes) {
  ASSIGN_OR_RETURN(std::string raw, pki::random_bytes(8));
  OneTimePassword otp;
  otp.password = pki::hex_upper(raw);
  otp.expires = clock_.now() + std::chrono::minutes(minutes);
  const std::string digest = sha256_hex(otp.password);
  const std::string value = digest + " " + std::to_string(to_unix(otp.expires));
  MutexLock lock(mu_);
  store::WriteBatch batch;
  batch.put_meta(kMetaOtp, value);
  RETURN_IF_ERROR(store_.write(batch));
  stored_ = value;
  digest_ = digest;
  expires_ = otp.expires;
  return otp;
}

bool OtpStore::matches(std::string_view candidate) const {
  if (candidate.empty()) return false;
  const std::string d = sha256_hex(candidate);
  MutexLock lock(mu_);
  return !digest_.empty() && clock_.now() < expires_ && pki::constant_time_equal(d, digest_);
}

bool OtpStore::add_consumption(std::string_view candidate, store::WriteBatch& batch) const {
  if (!matches(candidate)) return false;
  MutexLock lock(mu_);
  batch.delete_meta_if(kMetaOtp, stored_);
  return true;
}

void OtpStore::consumed() {
  MutexLock lock(mu_);
  stored_.clear();
  digest_.clear();
}

bool OtpStore::consume(std::string_view candidate) {
  store::WriteBatch batch;
  if (!add_consumption(candidate, batch)) return false;
  if (!store_.write(batch).ok()) return false;  // used meanwhile, or not recordable
  consumed();
  return true;
}

}  // namespace scepter::ca
