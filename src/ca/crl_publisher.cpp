#include "ca/crl_publisher.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "ca/server_runtime.h"
#include "common/log.h"
#include "common/parse.h"
#include "pki/crl.h"

namespace scepter::ca {

CrlPublisher::CrlPublisher(store::Store& store, pki::Certificate ca_cert, pki::Key ca_key,
                           const Clock& clock, std::string label)
    : store_(store),
      ca_cert_(std::move(ca_cert)),
      ca_key_(std::move(ca_key)),
      clock_(clock),
      label_(std::move(label)) {}

std::string format_foreign_revocations(const std::vector<pki::CrlInfo::Entry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    out += fmt::format(
        "{} {} {}\n", e.serial.sequence,
        e.serial.entropy ? std::to_string(*e.serial.entropy) : std::string("-"),
        std::chrono::duration_cast<std::chrono::seconds>(e.revoked_at.time_since_epoch()).count());
  }
  return out;
}

Result<std::vector<pki::CrlInfo::Entry>> parse_foreign_revocations(std::string_view text) {
  std::vector<pki::CrlInfo::Entry> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty()) continue;
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) {
      return fail(invalid_argument("corrupt foreign revocations in the main database"));
    }
    auto seq = parse_decimal<std::uint64_t>(line.substr(0, sp1));
    const std::string_view entropy_text = line.substr(sp1 + 1, sp2 - sp1 - 1);
    auto entropy = entropy_text == "-" ? std::optional<std::uint64_t>()
                                       : parse_decimal<std::uint64_t>(entropy_text);
    auto at = parse_decimal<std::int64_t>(line.substr(sp2 + 1));
    if (!seq || !at || (entropy_text != "-" && !entropy)) {
      return fail(invalid_argument("corrupt foreign revocations in the main database"));
    }
    out.push_back({pki::SerialNumber{*seq, entropy}, TimePoint(std::chrono::seconds(*at))});
  }
  return out;
}

Status CrlPublisher::load(const ServerConfig& cfg, files::FileSet files) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(pki::CrlBuilder builder,
                   pki::CrlBuilder::create(ca_cert_.x509(), ca_key_.evp()));
  Status add_status;
  RETURN_IF_ERROR(store_.for_each_revocation([&](const store::Revocation& r) {
    if (add_status.ok()) add_status = builder.add({r.serial, r.serial_entropy}, r.at);
  }));
  RETURN_IF_ERROR(add_status);
  ASSIGN_OR_RETURN(std::optional<std::string> foreign, store_.meta(kMetaForeignRevocations));
  if (foreign.has_value()) {
    ASSIGN_OR_RETURN(auto entries, parse_foreign_revocations(*foreign));
    for (const auto& e : entries) RETURN_IF_ERROR(builder.add(e.serial, e.revoked_at));
  }
  crl_.emplace(std::move(builder));
  ASSIGN_OR_RETURN(std::optional<std::string> number, store_.meta(kMetaCrlNumber));
  number_ = 0;
  if (number.has_value()) {
    auto n = parse_decimal<std::uint64_t>(*number);
    if (!n.has_value()) return invalid_argument("corrupt CRL number in the main database");
    number_ = *n;
  }
  // Reuse the current CRL unless it is missing, unreadable, stale or does not list every
  // revocation.
  auto der = files.read(files::FileType::kCrl, label_ + ".crl");
  if (der.has_value()) {
    auto info = pki::parse_crl_info(*der);
    const bool valid = info.has_value() && pki::verify_crl_signature(*der, ca_key_.evp()).ok() &&
                       info->entries.size() == crl_->size() && info->next_update.has_value() &&
                       *info->next_update > clock_.now();
    if (valid) {
      log::trace(log::Category::kPkiServer, "CRYPTO_CS: Read {} bytes from crl file {}.crl.",
                 der->size(), label_);
      der_ = std::make_shared<const std::string>(std::move(*der));
      this_update_ = info->this_update;
      next_update_ = *info->next_update;
      if (info->crl_number) number_ = std::max(number_, *info->crl_number);
      show_locked();
      return ok_status();
    }
  }
  return publish_locked(cfg, std::move(files));
}

Status CrlPublisher::publish_locked(const ServerConfig& cfg, files::FileSet files) {
  const TimePoint now = clock_.now();
  const TimePoint next = now + std::chrono::hours(cfg.crl_lifetime_hours);
  const std::uint64_t number = number_ + 1;
  ASSIGN_OR_RETURN(std::string der, crl_->build(now, next, number, pki::evp_md(cfg.hash)));
  // The number is made durable before the CRL that carries it, so it never repeats.
  store::WriteBatch batch;
  batch.put_meta(kMetaCrlNumber, std::to_string(number));
  RETURN_IF_ERROR(store_.write(batch));
  number_ = number;
  if (Status s = files.write(files::FileType::kCrl, label_ + ".crl", der); !s.ok()) {
    dirty_ = true;
    show_locked();
    return s;
  }
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: Publishing {} bytes to crl file {}{}.crl",
             der.size(), files.url_for(files::FileType::kCrl), label_);
  der_ = std::make_shared<const std::string>(std::move(der));
  this_update_ = now;
  next_update_ = next;
  dirty_ = false;
  show_locked();
  return ok_status();
}

void CrlPublisher::show_locked() {
  View v{der_, der_ ? std::optional<TimePoint>(next_update_) : std::nullopt, dirty_};
  MutexLock lock(view_mu_);
  view_ = std::move(v);
}

Status CrlPublisher::publish_change_locked(std::string_view done, const ServerConfig& cfg,
                                           files::FileSet files) {
  if (Status s = publish_locked(cfg, std::move(files)); !s.ok()) {
    dirty_ = true;
    show_locked();
    return unavailable(fmt::format("The certificate is {}, but the CRL could not be written: {}",
                                   done, s.message()));
  }
  return ok_status();
}

Result<std::vector<pki::CrlInfo::Entry>> CrlPublisher::foreign_locked() const {
  ASSIGN_OR_RETURN(std::optional<std::string> text, store_.meta(kMetaForeignRevocations));
  if (!text.has_value()) return std::vector<pki::CrlInfo::Entry>{};
  return parse_foreign_revocations(*text);
}

Status CrlPublisher::revoke(const pki::SerialNumber& serial, const ServerConfig& cfg,
                            files::FileSet files) {
  MutexLock lock(mu_);
  const TimePoint now = clock_.now();
  store::WriteBatch batch;
  batch.revoke(serial.sequence, now);
  RETURN_IF_ERROR(store_.write(batch));
  RETURN_IF_ERROR(crl_->add(serial, now));
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: revoked certificate 0x{}", serial.hex());
  return publish_change_locked("revoked", cfg, std::move(files));
}

Status CrlPublisher::revoke_foreign(const pki::SerialNumber& serial, const ServerConfig& cfg,
                                    files::FileSet files) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(std::vector<pki::CrlInfo::Entry> entries, foreign_locked());
  for (const auto& e : entries) {
    if (e.serial.sequence == serial.sequence) {
      return already_exists(fmt::format("certificate 0x{} is already revoked", serial.hex()));
    }
  }
  const TimePoint now = clock_.now();
  entries.push_back({serial, now});
  store::WriteBatch batch;
  batch.put_meta(kMetaForeignRevocations, format_foreign_revocations(entries));
  RETURN_IF_ERROR(store_.write(batch));
  RETURN_IF_ERROR(crl_->add(serial, now));
  log::trace(log::Category::kPkiServer,
             "CRYPTO_CS: revoked certificate 0x{} (issued before the "
             "move)",
             serial.hex());
  return publish_change_locked("revoked", cfg, std::move(files));
}

Status CrlPublisher::unrevoke(const pki::SerialNumber& serial, const ServerConfig& cfg,
                              files::FileSet files) {
  MutexLock lock(mu_);
  store::WriteBatch batch;
  batch.unrevoke(serial.sequence);
  RETURN_IF_ERROR(store_.write(batch));
  RETURN_IF_ERROR(crl_->remove(serial));
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: unrevoked certificate 0x{}", serial.hex());
  return publish_change_locked("no longer revoked", cfg, std::move(files));
}

Status CrlPublisher::unrevoke_foreign(const pki::SerialNumber& serial, const ServerConfig& cfg,
                                      files::FileSet files) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(std::vector<pki::CrlInfo::Entry> entries, foreign_locked());
  // The entry as listed: the CRL builder removes it by its whole serial.
  auto listed = std::find_if(entries.begin(), entries.end(), [&](const pki::CrlInfo::Entry& e) {
    return e.serial.sequence == serial.sequence &&
           (!serial.entropy.has_value() || serial.entropy == e.serial.entropy);
  });
  if (listed == entries.end()) {
    return invalid_argument(fmt::format("certificate 0x{} is not revoked", serial.hex()));
  }
  const pki::SerialNumber whole = listed->serial;
  entries.erase(listed);
  store::WriteBatch batch;
  batch.put_meta(kMetaForeignRevocations, format_foreign_revocations(entries));
  RETURN_IF_ERROR(store_.write(batch));
  RETURN_IF_ERROR(crl_->remove(whole));
  log::trace(log::Category::kPkiServer,
             "CRYPTO_CS: unrevoked certificate 0x{} (issued before the move)", whole.hex());
  return publish_change_locked("no longer revoked", cfg, std::move(files));
}

Status CrlPublisher::refresh_if_due(const ServerConfig& cfg, files::FileSet files) {
  MutexLock lock(mu_);
  const auto lifetime = next_update_ - this_update_;
  const auto margin = std::max<Seconds>(Seconds(60), lifetime / 8);
  if (!dirty_ && clock_.now() < next_update_ - margin) return ok_status();
  return publish_locked(cfg, files);
}

std::shared_ptr<const std::string> CrlPublisher::der() const {
  MutexLock lock(view_mu_);
  return view_.der;
}

std::optional<TimePoint> CrlPublisher::next_update() const {
  MutexLock lock(view_mu_);
  return view_.next_update;
}

bool CrlPublisher::dirty() const {
  MutexLock lock(view_mu_);
  return view_.dirty;
}

}  // namespace scepter::ca
