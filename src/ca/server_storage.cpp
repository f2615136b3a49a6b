// The certificate server's files: where they go (FileSet), the queue of copies for file
// servers, and the database of a CA moved here from another server (`serial-number`).
#include <filesystem>

#include <fmt/format.h>

#include "ca/certificate_server.h"
#include "ca/crl_publisher.h"
#include "ca/server_runtime.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/parse.h"
#include "pki/name.h"

namespace scepter::ca {

std::string CertificateServer::publish_spool_dir() const {
  return deps_.trustpoint_dir + "/" + label_ + ".publish";
}

files::PublishQueue* CertificateServer::publish_queue() const {
  if (deps_.remote == nullptr) return nullptr;
  MutexLock lock(publish_mu_);
  if (!publish_) {
    files::PublishQueue::Options options;
    options.spool_dir = publish_spool_dir();
    auto queue = files::PublishQueue::open(
        options, *deps_.remote,
        [this](const std::string& location) { return config().locations.login_for(location); });
    if (!queue.has_value()) {
      log::error("certificate server {}: publish queue {}: {}", label_, options.spool_dir,
                 queue.error().message());
      return nullptr;
    }
    publish_ = std::move(*queue);
  }
  return publish_.get();
}

void CertificateServer::discard_publish_queue() {
  std::unique_ptr<files::PublishQueue> queue;
  {
    MutexLock lock(publish_mu_);
    queue = std::move(publish_);
  }
  queue.reset();  // joins its thread
  std::error_code ec;
  std::filesystem::remove_all(publish_spool_dir(), ec);
  if (ec)
    log::warn("certificate server {}: cannot remove {}: {}", label_, publish_spool_dir(),
              ec.message());
}

files::FileSet CertificateServer::file_set(const ServerConfig& cfg) const {
  // The queue is opened only for a configuration that publishes to a server.
  bool remote = false;
  for (const auto& [type, urls] : cfg.locations.publish) {
    for (const auto& url : urls) remote = remote || files::is_remote_url(url);
  }
  for (auto type : {files::FileType::kCrt, files::FileType::kCnm}) {
    auto it = cfg.locations.storage.find(type);
    remote = remote || files::is_remote_url(
                           it == cfg.locations.storage.end() ? cfg.locations.primary : it->second);
  }
  return files::FileSet(cfg.locations, deps_.resolver, deps_.remote,
                        remote ? publish_queue() : nullptr);
}

Status CertificateServer::check_storage(const ServerConfig& cfg) const {
  files::FileSet files = file_set(cfg);
  std::vector<files::FileType> needed = {files::FileType::kSer, files::FileType::kCrl};
  if (cfg.level != files::DbLevel::kMinimal) needed.push_back(files::FileType::kCnm);
  if (cfg.level == files::DbLevel::kComplete) needed.push_back(files::FileType::kCrt);
  for (files::FileType t : needed) {
    Status s = files.check_writable(t);
    if (!s.ok()) return unavailable("Storage inaccessible: " + s.message());
  }
  return ok_status();
}

Status CertificateServer::adopt_ca(Runtime& rt, const ServerConfig& cfg,
                                   const files::FileSet& files) {
  std::optional<pki::Certificate> cert = stored_ca_certificate();
  if (!cert) return not_found("The imported CA certificate cannot be read.");
  auto key = deps_.keys.get(label_);
  auto cert_key = cert->public_key();
  if (!key || !cert_key.has_value() || !key->key.equals_public(*cert_key)) {
    return invalid_argument("The key " + label_ + " does not match the imported CA certificate.");
  }
  store::WriteBatch batch;
  batch.put_meta(kMetaCaCert, cert->der());
  batch.put_meta(kMetaLastSerial, std::to_string(cfg.serial_number_above));
  batch.put_meta(kMetaAdoptedSerial, std::to_string(cfg.serial_number_above));
  // The revocations of the old server, from its last CRL (copied beside the database).
  std::size_t revoked = 0;
  auto crl = files.read(files::FileType::kCrl, label_ + ".crl");
  if (!crl.has_value() && crl.error().code() != Code::kNotFound) return crl.error();
  if (crl.has_value()) {
    auto info = pki::parse_crl_info(*crl);
    if (!info.has_value() || !pki::verify_crl_signature(*crl, key->key.evp()).ok()) {
      return invalid_argument(fmt::format(
          "{}{}.crl is not a CRL signed by this CA: copy the CA's own CRL there, or remove it "
          "to start without revocations.",
          files.url_for(files::FileType::kCrl), label_));
    }
    for (const auto& e : info->entries) {
      if (e.serial.sequence > cfg.serial_number_above) {
        return invalid_argument(fmt::format(
            "The CRL revokes serial number 0x{}, above serial-number 0x{:X}: set serial-number "
            "to the last serial number the CA issued.",
            e.serial.hex(), cfg.serial_number_above));
      }
    }
    batch.put_meta(kMetaForeignRevocations, format_foreign_revocations(info->entries));
    if (info->crl_number) batch.put_meta(kMetaCrlNumber, std::to_string(*info->crl_number));
    revoked = info->entries.size();
  }
  RETURN_IF_ERROR(rt.store->write(batch));
  log::info(
      "certificate server {}: took over CA {} (serial numbers up to 0x{:X} issued elsewhere, "
      "{} of them revoked)",
      label_, pki::format_dn_config(cert->subject()), cfg.serial_number_above, revoked);
  return ok_status();
}

Result<store::Serial> serials_used(const store::Store& store) {
  ASSIGN_OR_RETURN(store::Serial last, store.last_serial());
  ASSIGN_OR_RETURN(std::optional<std::string> floor, store.meta(kMetaLastSerial));
  if (floor.has_value()) {
    last = std::max<store::Serial>(last, parse_decimal<store::Serial>(*floor).value_or(0));
  }
  return last;
}

Result<bool> CertificateServer::raise_serial_floor(Runtime& rt, const ServerConfig& cfg) {
  ASSIGN_OR_RETURN(store::Serial current, serials_used(*rt.store));
  if (cfg.serial_number_above <= current) return false;
  store::WriteBatch batch;
  batch.put_meta(kMetaLastSerial, std::to_string(cfg.serial_number_above));
  RETURN_IF_ERROR(rt.store->write(batch));
  log::info("certificate server {}: new serial numbers start above 0x{:X}", label_,
            cfg.serial_number_above);
  return true;
}

}  // namespace scepter::ca
