// GET /api/v1/events: the device's EventHub (ca/events.h) as server-sent events.

#include <charconv>
#include <memory>

#include "api/answers.h"
#include "api/service.h"
#include "common/mutex.h"

namespace scepter::api {
namespace {

// How long an EventSource waits before it reconnects after the stream ends.
constexpr std::string_view kRetry = "retry: 5000\n\n";

std::string event_text(const ca::Event& e) {
  nlohmann::json data = {
      {"sequence", e.sequence}, {"kind", ca::event_kind_name(e.kind)}, {"time", json_time(e.time)}};
  if (e.kind != ca::EventKind::kResync) {
    data["server"] = e.server;
    data["id"] = e.id;
    data["state"] = e.state;
  }
  std::string out = "id: " + std::to_string(e.sequence) + "\nevent: ";
  out += ca::event_kind_name(e.kind);
  out += "\ndata: ";
  out += data.dump();  // one line: dump() without indent escapes newlines
  out += "\n\n";
  return out;
}

// The hub's subscription feeding one HTTP stream. The stream owns the feed (through its
// keep_going function); the hub holds the subscription weakly and the feed through the
// wake function weakly, so whichever ends first, nothing is kept alive by a cycle.
struct Feed {
  Mutex mu;  // one drain at a time, so events enter the stream in their order
  std::shared_ptr<ca::EventHub::Subscription> subscription GUARDED_BY(mu);
  std::weak_ptr<http::EventStream> stream;  // set before the subscription

  void drain() {
    MutexLock lock(mu);
    auto out = stream.lock();
    if (!out || !subscription) {
      return;
    }
    for (const ca::Event& e : subscription->take()) {
      if (!out->push(event_text(e))) {
        subscription.reset();  // the stream has ended: unsubscribe
        return;
      }
    }
  }
};

std::optional<std::uint64_t> last_event_id(const http::Request& req) {
  const auto header = req.header("Last-Event-ID");
  if (!header || header->empty()) return std::nullopt;
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(header->data(), header->data() + header->size(), n);
  if (ec != std::errc() || end != header->data() + header->size()) return std::nullopt;
  return n;
}

}  // namespace

http::Response ApiService::events(const http::Request& req, const Caller& caller,
                                  std::string token) {
  auto stream = std::make_shared<http::EventStream>();
  auto feed = std::make_shared<Feed>();
  feed->stream = stream;
  stream->push(std::string(kRetry));
  auto subscription = device_.events().subscribe(
      [weak = std::weak_ptr<Feed>(feed)] {
        if (auto f = weak.lock()) f->drain();
      },
      last_event_id(req));
  {
    MutexLock lock(feed->mu);
    feed->subscription = std::move(subscription);
  }
  feed->drain();  // what subscribe() queued from the history
  // Each heartbeat: the stream lasts as long as its session and its account. The servers
  // stop before this service goes (HttpFrontend), so `this` outlives every heartbeat.
  stream->keep_going = [this, feed, token = std::move(token), user = caller.session.user] {
    return sessions_.alive(token) && device_.accounts().find(user).has_value();
  };
  http::Response r;
  r.content_type = "text/event-stream";
  r.headers = {{"X-Content-Type-Options", "nosniff"}};
  r.stream = std::move(stream);
  return r;
}

}  // namespace scepter::api
