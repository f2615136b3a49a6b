#include "ca/crl_publisher.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "ca/server_runtime.h"
#include "common/log.h"
#include "common/parse.h"
#include "pki/crl.h"

namespace scepter::ca {

namespace {

// This node as the others see it in `show crypto pki server`.
std::string node_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  return fmt::format("{} pid {}", host, ::getpid());
}

Result<std::uint64_t> parse_crl_number(const std::optional<std::string>& text) {
  if (!text.has_value()) return std::uint64_t{0};
  auto n = parse_decimal<std::uint64_t>(*text);
  if (!n.has_value()) return fail(invalid_argument("corrupt CRL number in the main database"));
  return *n;
}

}  // namespace

CrlPublisher::CrlPublisher(store::Store& store, pki::Certificate ca_cert, pki::Key ca_key,
                           const Clock& clock, std::string label)
    : store_(store),
      ca_cert_(std::move(ca_cert)),
      ca_key_(std::move(ca_key)),
      clock_(clock),
      label_(std::move(label)),
      shared_(store.shared()),
      node_(node_name()) {}

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
    out.push_back({pki::SerialNumber{*seq, entropy}, TimePoint(std::chrono::seconds(*at)),
                   std::nullopt});  // foreign revocations keep no reason
  }
  return out;
}

CrlPublisher::~CrlPublisher() { watch_.reset(); }

Status CrlPublisher::rebuild_locked() {
  ASSIGN_OR_RETURN(pki::CrlBuilder builder,
                   pki::CrlBuilder::create(ca_cert_.x509(), ca_key_.evp()));
  Status add_status;
  RETURN_IF_ERROR(store_.for_each_revocation([&](const store::Revocation& r) {
    // The store takes removeFromCRL, which only delta CRLs carry: such an entry is listed
    // without its reason rather than keeping the CA from starting.
    const std::optional<int> reason =
        r.reason && pki::is_crl_entry_reason(*r.reason) ? r.reason : std::nullopt;
    if (add_status.ok()) add_status = builder.add({r.serial, r.serial_entropy}, r.at, reason);
  }));
  RETURN_IF_ERROR(add_status);
  ASSIGN_OR_RETURN(std::optional<std::string> foreign, store_.meta(kMetaForeignRevocations));
  if (foreign.has_value()) {
    ASSIGN_OR_RETURN(auto entries, parse_foreign_revocations(*foreign));
    for (const auto& e : entries) RETURN_IF_ERROR(builder.add(e.serial, e.revoked_at));
  }
  crl_.emplace(std::move(builder));
  ASSIGN_OR_RETURN(std::optional<std::string> number, store_.meta(kMetaCrlNumber));
  ASSIGN_OR_RETURN(std::uint64_t stored, parse_crl_number(number));
  number_ = std::max(number_, stored);
  return ok_status();
}

Status CrlPublisher::hold_locked(std::optional<std::string> der, const ServerConfig& cfg,
                                 files::FileSet files) {
  Status s = rebuild_locked();
  if (s.ok() && shared_) {  // the CRL the last holder stored
    auto stored = store_.meta(kMetaCrlDer);
    if (stored.has_value()) {
      der = std::move(*stored);
    } else {
      s = stored.error();
    }
  }
  if (!s.ok()) {
    if (shared_) {  // the holder keeps the revocations; this node could not read them
      role_.reset();
      crl_.reset();
    }
    return s;
  }
  if (shared_) publisher_ = node_;
  // Reuse the current CRL unless it is missing, unreadable, stale or does not list every
  // revocation.
  if (der.has_value()) {
    auto info = pki::parse_crl_info(*der);
    const bool valid = info.has_value() && pki::verify_crl_signature(*der, ca_key_.evp()).ok() &&
                       info->entries.size() == crl_->size() && info->next_update.has_value() &&
                       *info->next_update > clock_.now() &&
                       (!shared_ || info->crl_number == number_);
    if (valid) {
      log::trace(log::Category::kPkiServer, "CRYPTO_CS: Read {} bytes from crl file {}.crl.",
                 der->size(), label_);
      der_ = std::make_shared<const std::string>(std::move(*der));
      this_update_ = info->this_update;
      next_update_ = *info->next_update;
      entries_ = info->entries.size();
      if (info->crl_number) number_ = std::max(number_, *info->crl_number);
      show_locked();
      return ok_status();
    }
  }
  return publish_locked(cfg, std::move(files));
}

Status CrlPublisher::load(const ServerConfig& cfg, files::FileSet files) {
  MutexLock lock(mu_);
  cfg_ = cfg;
  files_ = files;
  if (!shared_) {
    auto file = files.read(files::FileType::kCrl, label_ + ".crl");
    return hold_locked(
        file.has_value() ? std::optional<std::string>(std::move(*file)) : std::nullopt, cfg, files);
  }
  if (!watch_) {
    ASSIGN_OR_RETURN(watch_, store_.watch([this](const std::string& event) { on_event(event); }));
  }
  if (!take_role_locked()) return follow_locked();
  return hold_locked(std::nullopt, cfg, std::move(files));
}

bool CrlPublisher::take_role_locked() {
  if (holder_locked()) return true;
  auto role = store_.try_take_role("crl:" + label_);
  if (!role.has_value()) {
    log::warn("certificate server {}: cannot ask for the CRL role: {}", label_,
              role.error().message());
    return false;
  }
  if (*role == nullptr) return false;
  role_ = std::move(*role);
  log::info("certificate server {}: this node publishes the CRL", label_);
  return true;
}

void CrlPublisher::lose_role_locked(std::string_view why) {
  log::warn("certificate server {}: this node no longer publishes the CRL: {}", label_, why);
  role_.reset();
  crl_.reset();
  dirty_ = false;
}

Status CrlPublisher::follow_locked() {
  ASSIGN_OR_RETURN(std::optional<std::string> text, store_.meta(kMetaCrlNumber));
  ASSIGN_OR_RETURN(std::uint64_t stored, parse_crl_number(text));
  if (der_ != nullptr && stored <= number_) return ok_status();
  ASSIGN_OR_RETURN(std::optional<std::string> der, store_.meta(kMetaCrlDer));
  ASSIGN_OR_RETURN(std::optional<std::string> who, store_.meta(kMetaCrlPublisher));
  publisher_ = who.value_or("");
  if (!der.has_value()) {
    show_locked();
    return ok_status();  // none published yet
  }
  ASSIGN_OR_RETURN(pki::CrlInfo info, pki::parse_crl_info(*der));
  const std::uint64_t number = info.crl_number.value_or(0);
  if (der_ != nullptr && number <= number_) return ok_status();
  der_ = std::make_shared<const std::string>(std::move(*der));
  this_update_ = info.this_update;
  next_update_ = info.next_update.value_or(info.this_update);
  entries_ = info.entries.size();
  number_ = number;
  show_locked();
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: serving CRL {} published by {}", number_,
             publisher_);
  return ok_status();
}

void CrlPublisher::on_event(const std::string& event) {
  MutexLock lock(mu_);
  if (!cfg_.has_value() || !files_.has_value()) return;
  Status s;
  if (holder_locked()) {
    if (!event.empty() && event != revoked_event(label_)) return;
    // Another node recorded a revocation (or events were missed): every revocation is
    // read again, and a CRL published with them.
    s = rebuild_locked();
    if (s.ok()) s = publish_locked(*cfg_, *files_);
    if (!s.ok() && holder_locked()) {
      dirty_ = true;  // the timer tries again
      show_locked();
    }
  } else {
    if (!event.empty() && event != published_event(label_)) return;
    s = follow_locked();
  }
  if (!s.ok()) {
    log::warn("certificate server {}: CRL after a change on another node: {}", label_, s.message());
  }
}

Status CrlPublisher::publish_locked(const ServerConfig& cfg, files::FileSet files) {
  const TimePoint now = clock_.now();
  const TimePoint next = now + std::chrono::hours(cfg.crl_lifetime_hours);
  store::WriteBatch batch;
  std::optional<std::string> stored_text;
  if (shared_) {
    // Whoever published last, the number goes up from the stored one, and only if it is
    // still the stored one when this CRL is recorded.
    ASSIGN_OR_RETURN(stored_text, store_.meta(kMetaCrlNumber));
    ASSIGN_OR_RETURN(std::uint64_t stored, parse_crl_number(stored_text));
    number_ = std::max(number_, stored);
    if (stored_text.has_value()) batch.delete_meta_if(kMetaCrlNumber, *stored_text);
  }
  const std::uint64_t number = number_ + 1;
  ASSIGN_OR_RETURN(std::string der, crl_->build(now, next, number, pki::evp_md(cfg.hash)));
  // The number is made durable before the CRL that carries it, so it never repeats.
  batch.put_meta(kMetaCrlNumber, std::to_string(number));
  if (shared_) {
    batch.put_meta(kMetaCrlDer, der);
    batch.put_meta(kMetaCrlPublisher, node_);
    batch.notify(published_event(label_));
  }
  if (Status s = store_.write(batch); !s.ok()) {
    if (shared_ && s.code() == Code::kNotFound) {
      // Another node published meanwhile: it holds the role now.
      lose_role_locked("another node published a CRL");
      (void)follow_locked();
      return unavailable(fmt::format("another node publishes the CRL of {}", label_));
    }
    return s;
  }
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
  entries_ = crl_->size();
  dirty_ = false;
  show_locked();
  return ok_status();
}

void CrlPublisher::show_locked() {
  revision_.fetch_add(1, std::memory_order_acq_rel);
  View v{der_,
         der_ ? std::optional<TimePoint>(next_update_) : std::nullopt,
         dirty_,
         shared_ ? std::optional<Publisher>(Publisher{role_ != nullptr, publisher_}) : std::nullopt,
         this_update_,
         entries_};
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

Status CrlPublisher::change_locked(store::WriteBatch batch,
                                   const std::function<Status(pki::CrlBuilder&)>& apply,
                                   std::string_view done, const ServerConfig& cfg,
                                   files::FileSet files) {
  cfg_ = cfg;
  files_ = files;
  const bool holder = holder_locked();
  if (!holder) batch.notify(revoked_event(label_));
  RETURN_IF_ERROR(store_.write(batch));
  revision_.fetch_add(1, std::memory_order_acq_rel);
  if (holder) {
    RETURN_IF_ERROR(apply(*crl_));
    return publish_change_locked(done, cfg, std::move(files));
  }
  // The holder publishes on the event; with nobody holding the role, this node does.
  if (!take_role_locked()) return ok_status();
  if (Status s = hold_locked(std::nullopt, cfg, std::move(files)); !s.ok()) {
    if (holder_locked()) dirty_ = true;  // the timer tries again
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

Status CrlPublisher::revoke(const pki::SerialNumber& serial, std::optional<int> reason,
                            const ServerConfig& cfg, files::FileSet files) {
  // Checked before anything is recorded: the builder would refuse it after the store took it.
  if (reason && !pki::is_crl_entry_reason(*reason)) {
    return invalid_argument(fmt::format("{} is not a revocation reason", *reason));
  }
  MutexLock lock(mu_);
  const TimePoint now = clock_.now();
  store::WriteBatch batch;
  batch.revoke(serial.sequence, now, reason);
  RETURN_IF_ERROR(change_locked(
      std::move(batch), [&](pki::CrlBuilder& crl) { return crl.add(serial, now, reason); },
      "revoked", cfg, std::move(files)));
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: revoked certificate 0x{}", serial.hex());
  return ok_status();
}

// The foreign revocations are one meta value: replaced only if it is still what was read
// (another node may change it meanwhile).
namespace {
void replace_foreign(store::WriteBatch& batch, const std::optional<std::string>& was,
                     const std::vector<pki::CrlInfo::Entry>& entries) {
  if (was.has_value()) batch.delete_meta_if(kMetaForeignRevocations, *was);
  batch.put_meta(kMetaForeignRevocations, format_foreign_revocations(entries));
}
}  // namespace

Status CrlPublisher::revoke_foreign(const pki::SerialNumber& serial, const ServerConfig& cfg,
                                    files::FileSet files) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(std::optional<std::string> was, store_.meta(kMetaForeignRevocations));
  ASSIGN_OR_RETURN(
      std::vector<pki::CrlInfo::Entry> entries,
      was ? parse_foreign_revocations(*was)
          : Result<std::vector<pki::CrlInfo::Entry>>(std::vector<pki::CrlInfo::Entry>{}));
  for (const auto& e : entries) {
    if (e.serial.sequence == serial.sequence) {
      return already_exists(fmt::format("certificate 0x{} is already revoked", serial.hex()));
    }
  }
  const TimePoint now = clock_.now();
  entries.push_back({serial, now, std::nullopt});
  store::WriteBatch batch;
  replace_foreign(batch, was, entries);
  RETURN_IF_ERROR(change_locked(
      std::move(batch), [&](pki::CrlBuilder& crl) { return crl.add(serial, now); }, "revoked", cfg,
      std::move(files)));
  log::trace(log::Category::kPkiServer,
             "CRYPTO_CS: revoked certificate 0x{} (issued before the "
             "move)",
             serial.hex());
  return ok_status();
}

Status CrlPublisher::unrevoke(const pki::SerialNumber& serial, const ServerConfig& cfg,
                              files::FileSet files) {
  MutexLock lock(mu_);
  store::WriteBatch batch;
  batch.unrevoke(serial.sequence);
  RETURN_IF_ERROR(change_locked(
      std::move(batch), [&](pki::CrlBuilder& crl) { return crl.remove(serial); },
      "no longer revoked", cfg, std::move(files)));
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: unrevoked certificate 0x{}", serial.hex());
  return ok_status();
}

Status CrlPublisher::unrevoke_foreign(const pki::SerialNumber& serial, const ServerConfig& cfg,
                                      files::FileSet files) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(std::optional<std::string> was, store_.meta(kMetaForeignRevocations));
  ASSIGN_OR_RETURN(
      std::vector<pki::CrlInfo::Entry> entries,
      was ? parse_foreign_revocations(*was)
          : Result<std::vector<pki::CrlInfo::Entry>>(std::vector<pki::CrlInfo::Entry>{}));
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
  replace_foreign(batch, was, entries);
  RETURN_IF_ERROR(change_locked(
      std::move(batch), [&](pki::CrlBuilder& crl) { return crl.remove(whole); },
      "no longer revoked", cfg, std::move(files)));
  log::trace(log::Category::kPkiServer,
             "CRYPTO_CS: unrevoked certificate 0x{} (issued before the move)", whole.hex());
  return ok_status();
}

Status CrlPublisher::refresh_if_due(const ServerConfig& cfg, files::FileSet files) {
  MutexLock lock(mu_);
  cfg_ = cfg;
  files_ = files;
  if (shared_) {
    if (role_ != nullptr && !role_->held()) lose_role_locked("its database session ended");
    if (role_ == nullptr) {
      if (!take_role_locked()) return follow_locked();  // in case an event was missed
      return hold_locked(std::nullopt, cfg, std::move(files));
    }
  }
  const auto lifetime = next_update_ - this_update_;
  const auto margin = std::max<Seconds>(Seconds(60), lifetime / 8);
  if (!dirty_ && clock_.now() < next_update_ - margin) return ok_status();
  Status s = publish_locked(cfg, files);
  if (!s.ok() && !holder_locked()) return ok_status();  // another node publishes now
  return s;
}

std::shared_ptr<const std::string> CrlPublisher::der() const {
  MutexLock lock(view_mu_);
  return view_.der;
}

std::optional<TimePoint> CrlPublisher::next_update() const {
  MutexLock lock(view_mu_);
  return view_.next_update;
}

std::optional<CrlPublisher::Gauges> CrlPublisher::gauges() const {
  MutexLock lock(view_mu_);
  if (!view_.der || !view_.next_update) return std::nullopt;
  return Gauges{view_.der->size(), view_.entries, view_.this_update, *view_.next_update};
}

bool CrlPublisher::dirty() const {
  MutexLock lock(view_mu_);
  return view_.dirty;
}

std::optional<CrlPublisher::Publisher> CrlPublisher::publisher() const {
  MutexLock lock(view_mu_);
  return view_.publisher;
}

}  // namespace scepter::ca
