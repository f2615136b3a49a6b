#include "files/publish_queue.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "common/fs.h"
#include "common/log.h"
#include "common/parse.h"

namespace scepter::files {
namespace {

constexpr std::string_view kMagic = "scepter-publish 1\n";
constexpr std::string_view kSuffix = ".pub";

// "ftp://u@127.0.0.1:2121/ca" -> "ftp://u@127.0.0.1:2121": what one backoff covers.
std::string server_of(std::string_view location) {
  const auto start = location.find("://");
  const auto end = location.find('/', start == std::string_view::npos ? 0 : start + 3);
  return std::string(location.substr(0, end));
}

}  // namespace

PublishQueue::PublishQueue(Options options, const RemoteFiles& remote, LoginFor login_for,
                           Send send)
    : options_(std::move(options)),
      remote_(remote),
      login_for_(std::move(login_for)),
      send_(send ? std::move(send)
                 : Send([this](const std::string& url, const Credentials& login,
                               std::string_view data, const std::atomic<bool>& cancel) {
                     return remote_.write(url, login, data, &cancel);
                   })) {}

Result<std::unique_ptr<PublishQueue>> PublishQueue::open(Options options, const RemoteFiles& remote,
                                                         LoginFor login_for, Send send) {
  RETURN_IF_ERROR(fs::make_dirs(options.spool_dir));
  RETURN_IF_ERROR(fs::check_private_dir(options.spool_dir, "Publish spool directory"));
  std::unique_ptr<PublishQueue> q(
      new PublishQueue(std::move(options), remote, std::move(login_for), std::move(send)));
  RETURN_IF_ERROR(q->load());
  q->thread_ = std::thread([p = q.get()] { p->run(); });
  return q;
}

PublishQueue::~PublishQueue() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string PublishQueue::spool_path(std::uint64_t seq) const {
  return fmt::format("{}/{:020}{}", options_.spool_dir, seq, kSuffix);
}

Status PublishQueue::load() {
  std::vector<std::uint64_t> seqs;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(options_.spool_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.ends_with(kSuffix) || name.front() == '.') continue;
    auto seq = parse_decimal<std::uint64_t>(name.substr(0, name.size() - kSuffix.size()));
    if (seq.has_value()) seqs.push_back(*seq);
  }
  if (ec) return unavailable(fmt::format("cannot read {}: {}", options_.spool_dir, ec.message()));
  std::sort(seqs.begin(), seqs.end());
  MutexLock lock(mu_);
  for (std::uint64_t seq : seqs) {
    auto text = fs::read_file(spool_path(seq));
    if (!text.has_value()) return text.error();
    std::string_view rest(*text);
    const auto loc_end = rest.find('\n', kMagic.size());
    const auto name_end =
        loc_end == std::string_view::npos ? loc_end : rest.find('\n', loc_end + 1);
    if (!rest.starts_with(kMagic) || name_end == std::string_view::npos) {
      // Not ours or cut short: kept aside for the operator, not sent.
      log::warn("publish spool: {} is not a spooled copy; renamed to .bad", spool_path(seq));
      std::filesystem::rename(spool_path(seq), spool_path(seq) + ".bad", ec);
      continue;
    }
    items_.push_back(Item{seq, std::string(rest.substr(kMagic.size(), loc_end - kMagic.size())),
                          std::string(rest.substr(loc_end + 1, name_end - loc_end - 1)), 0});
  }
  if (!seqs.empty()) next_seq_ = seqs.back() + 1;
  if (!items_.empty()) {
    log::info("publish spool {}: {} copies from before the restart to send", options_.spool_dir,
              items_.size());
  }
  return ok_status();
}

Status PublishQueue::enqueue(const std::string& location, const std::string& name,
                             std::string_view data) {
  if (location.find('\n') != std::string::npos || name.find('\n') != std::string::npos ||
      name.empty()) {
    return invalid_argument("a publish location or file name with a line break");
  }
  std::string content;
  content.reserve(kMagic.size() + location.size() + name.size() + 2 + data.size());
  content.append(kMagic).append(location).append("\n").append(name).append("\n").append(data);
  {
    // The spool file is written under the lock: a replacement and the sender's removal of
    // the same file must not cross.
    MutexLock lock(mu_);
    auto same = std::find_if(items_.begin(), items_.end(), [&](const Item& i) {
      return i.location == location && i.name == name;
    });
    const std::uint64_t seq = same != items_.end() ? same->seq : next_seq_;
    RETURN_IF_ERROR(fs::write_atomic(spool_path(seq), content, 0600));
    if (same != items_.end()) {
      ++same->version;
    } else {
      items_.push_back(Item{seq, location, name, 0});
      ++next_seq_;
    }
  }
  changed_.notify_all();
  return ok_status();
}

const PublishQueue::Item* PublishQueue::next_item(
    std::chrono::steady_clock::time_point now, std::chrono::steady_clock::time_point& wake) const {
  std::vector<std::string> seen;
  for (const Item& item : items_) {
    std::string server = server_of(item.location);
    if (std::find(seen.begin(), seen.end(), server) != seen.end()) continue;
    seen.push_back(server);
    auto b = backoff_.find(server);
    if (b == backoff_.end() || b->second.next <= now) return &item;
    wake = std::min(wake, b->second.next);
  }
  return nullptr;
}

void PublishQueue::run() {
  UniqueMutexLock lock(mu_);
  while (!stop_) {
    const auto now = std::chrono::steady_clock::now();
    auto wake = now + std::chrono::hours(1);
    const Item* found = next_item(now, wake);
    if (found == nullptr) {
      lock.wait_until(changed_, wake);
      continue;
    }
    const Item item = *found;
    const std::string server = server_of(item.location);
    lock.unlock();
    Status s = ok_status();
    auto text = fs::read_file(spool_path(item.seq));
    if (!text.has_value()) {
      s = text.error();
    } else {
      std::string_view data(*text);
      data.remove_prefix(kMagic.size() + item.location.size() + item.name.size() + 2);
      s = send_(join_url(item.location, item.name), login_for_(item.location), data, stop_);
    }
    lock.lock();
    auto it = std::find_if(items_.begin(), items_.end(),
                           [&](const Item& i) { return i.seq == item.seq; });
    if (s.ok()) {
      backoff_.erase(server);
      last_error_.clear();
      ++sent_;
      // A newer copy that came during the send goes out next time.
      if (it != items_.end() && it->version == item.version) {
        items_.erase(it);
        (void)fs::remove_file(spool_path(item.seq));
      }
      changed_.notify_all();
      continue;
    }
    if (stop_) break;
    Backoff& b = backoff_[server];
    b.delay =
        b.delay.count() == 0 ? options_.first_backoff : std::min(b.delay * 2, options_.max_backoff);
    b.next = std::chrono::steady_clock::now() + b.delay;
    last_error_ = s.message();
    log::warn("publish {}: {}; next try in {} s", item.name, s.message(),
              std::chrono::duration_cast<std::chrono::seconds>(b.delay).count());
  }
}

PublishQueue::State PublishQueue::state() const {
  MutexLock lock(mu_);
  State st;
  st.waiting = items_.size();
  st.sent = sent_;
  st.last_error = last_error_;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [server, b] : backoff_) {
    if (b.next > now) {
      st.next_try = std::max(st.next_try, std::chrono::ceil<std::chrono::seconds>(b.next - now));
    }
  }
  return st;
}

bool PublishQueue::wait_empty(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  UniqueMutexLock lock(mu_);
  while (!items_.empty()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    lock.wait_until(changed_, deadline);
  }
  return true;
}

}  // namespace scepter::files
