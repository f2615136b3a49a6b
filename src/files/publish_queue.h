#pragma once
// Copies on their way to remote publish locations (`database url crl publish
// ftp://...`, `.crt`/`.cnm` on a file server). Issuing never waits for them: a copy is
// put in a spool directory (synced, so it survives a restart) and sent by the queue's own
// thread. A send that fails is retried with a backoff per server (2 s doubling to 5 min),
// so one server that is down neither stops the others nor is hammered; copies for the
// same server go out in the order they came. A newer copy of a file still waiting
// replaces the old one (the newest CRL is the one that matters). Only names and places
// are kept in memory; the bytes stay in the spool until they are sent.
//
// The login is asked for at each send (`login_for`), so a password the operator fixes
// is used at the next try. Thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "files/remote.h"

namespace scepter::files {

class PublishQueue {
 public:
  using LoginFor = std::function<Credentials(const std::string& location)>;
  using Send = std::function<Status(const std::string& url, const Credentials& login,
                                    std::string_view data, const std::atomic<bool>& cancel)>;

  struct Options {
    std::string spool_dir;  // created if missing
    std::chrono::milliseconds first_backoff{2000};
    std::chrono::milliseconds max_backoff{300000};
  };

  // Loads what the spool holds from before a restart and starts sending. `send` defaults
  // to `remote`'s write.
  static Result<std::unique_ptr<PublishQueue>> open(Options options, const RemoteFiles& remote,
                                                    LoginFor login_for, Send send = {});
  ~PublishQueue();  // stops sending (an upload in flight is cancelled); the spool stays
  PublishQueue(const PublishQueue&) = delete;
  PublishQueue& operator=(const PublishQueue&) = delete;

  // Queues `data` for the file `name` at `location` (a remote directory URL). Durable when
  // it returns.
  Status enqueue(const std::string& location, const std::string& name, std::string_view data);

  struct State {
    std::size_t waiting = 0;
    std::uint64_t sent = 0;
    std::string last_error;            // the last failure, "" after a success
    std::chrono::seconds next_try{0};  // until the next try of a failed server
  };
  State state() const;

  // Waits until nothing is waiting or `timeout` passes; true when empty.
  bool wait_empty(std::chrono::milliseconds timeout) const;

 private:
  struct Item {
    std::uint64_t seq = 0;
    std::string location;
    std::string name;
    std::uint64_t version = 0;  // bumped when a newer copy replaces the data
  };
  struct Backoff {
    std::chrono::milliseconds delay{0};
    std::chrono::steady_clock::time_point next{};
  };

  PublishQueue(Options options, const RemoteFiles& remote, LoginFor login_for, Send send);
  std::string spool_path(std::uint64_t seq) const;
  Status load();
  void run();
  // The first item that may be sent now (the oldest of its server, whose backoff is
  // over), or null; `wake` becomes the time of the next backoff to end.
  const Item* next_item(std::chrono::steady_clock::time_point now,
                        std::chrono::steady_clock::time_point& wake) const REQUIRES(mu_);

  const Options options_;
  const RemoteFiles& remote_;
  const LoginFor login_for_;
  const Send send_;
  std::atomic<bool> stop_{false};
  mutable Mutex mu_;
  mutable std::condition_variable changed_;
  std::vector<Item> items_ GUARDED_BY(mu_);                 // in order
  std::map<std::string, Backoff> backoff_ GUARDED_BY(mu_);  // by server (scheme://host:port)
  std::uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  std::uint64_t sent_ GUARDED_BY(mu_) = 0;
  std::string last_error_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace scepter::files
