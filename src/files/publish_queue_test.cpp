// The queue's order, retries and spool, with the sending replaced by a function that
// records what it is given and fails on demand (real servers are in
// tests/integration/test_remote_files.py).
#include "files/publish_queue.h"

#include <unistd.h>

#include <filesystem>

#include "common/fs.h"
#include "common/testing.h"

namespace scepter::files {
namespace {

using namespace std::chrono_literals;

class FakeServers {
 public:
  Status send(const std::string& url, const Credentials& login, std::string_view data) {
    MutexLock lock(mu_);
    for (const std::string& down : down_) {
      if (url.starts_with(down)) return unavailable("cannot write " + url + ": connection refused");
    }
    sent_.push_back(url + "=" + std::string(data) + "@" + login.username);
    return ok_status();
  }
  void set_down(std::vector<std::string> prefixes) {
    MutexLock lock(mu_);
    down_ = std::move(prefixes);
  }
  std::vector<std::string> sent() {
    MutexLock lock(mu_);
    return sent_;
  }

 private:
  Mutex mu_;
  std::vector<std::string> down_ GUARDED_BY(mu_);
  std::vector<std::string> sent_ GUARDED_BY(mu_);
};

struct QueueTest : ::testing::Test {
  QueueTest() {
    char tmpl[] = "/tmp/scepter-spool-XXXXXX";
    dir = ::mkdtemp(tmpl);
    dir += "/spool";
  }
  ~QueueTest() override { std::filesystem::remove_all(std::filesystem::path(dir).parent_path()); }

  std::unique_ptr<PublishQueue> open() {
    PublishQueue::Options o;
    o.spool_dir = dir;
    o.first_backoff = 50ms;
    o.max_backoff = 200ms;
    auto q = PublishQueue::open(
        o, remote,
        [](const std::string& location) {
          return Credentials{location.substr(0, 3), ""};
        },
        [this](const std::string& url, const Credentials& login, std::string_view data,
               const std::atomic<bool>&) { return servers.send(url, login, data); });
    EXPECT_TRUE(q.has_value()) << q.error().message();
    return std::move(*q);
  }
  std::size_t spooled() const {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      n += e.path().extension() == ".pub";
    return n;
  }

  std::string dir;
  RemoteFiles remote;
  FakeServers servers;
};

TEST_F(QueueTest, SendsWithTheLoginOfTheLocationAndEmptiesTheSpool) {
  auto q = open();
  ASSERT_OK(q->enqueue("ftp://a/ca", "mycs.crl", "crl1"));
  ASSERT_TRUE(q->wait_empty(5s));
  EXPECT_EQ(servers.sent(), std::vector<std::string>{"ftp://a/ca/mycs.crl=crl1@ftp"});
  EXPECT_EQ(spooled(), 0u);
  EXPECT_EQ(q->state().sent, 1u);
  EXPECT_EQ(q->state().last_error, "");
}

TEST_F(QueueTest, AServerThatIsDownIsRetriedInOrderWithoutHoldingUpTheOthers) {
  servers.set_down({"ftp://a/"});
  auto q = open();
  ASSERT_OK(q->enqueue("ftp://a/ca", "1.cnm", "one"));
  ASSERT_OK(q->enqueue("ftp://a/ca", "2.cnm", "two"));
  ASSERT_OK(q->enqueue("http://b/ca", "1.cnm", "one"));
  // b is served while a is down.
  for (int i = 0; i < 200 && servers.sent().empty(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(servers.sent(), std::vector<std::string>{"http://b/ca/1.cnm=one@htt"});
  std::this_thread::sleep_for(150ms);
  PublishQueue::State st = q->state();
  EXPECT_EQ(st.waiting, 2u);
  EXPECT_NE(st.last_error.find("connection refused"), std::string::npos) << st.last_error;
  EXPECT_EQ(spooled(), 2u);

  servers.set_down({});
  ASSERT_TRUE(q->wait_empty(5s));
  EXPECT_EQ(servers.sent(),
            (std::vector<std::string>{"http://b/ca/1.cnm=one@htt", "ftp://a/ca/1.cnm=one@ftp",
                                      "ftp://a/ca/2.cnm=two@ftp"}));
  EXPECT_EQ(q->state().last_error, "");
}

TEST_F(QueueTest, ANewerCopyReplacesTheOneWaiting) {
  servers.set_down({"ftp://a/"});
  auto q = open();
  ASSERT_OK(q->enqueue("ftp://a/ca", "mycs.crl", "crl1"));
  ASSERT_OK(q->enqueue("ftp://a/ca", "mycs.crl", "crl2"));
  EXPECT_EQ(q->state().waiting, 1u);
  servers.set_down({});
  ASSERT_TRUE(q->wait_empty(5s));
  // A send of the older copy may have been under way when the newer one came: the newer
  // one then follows it. Either way the newest is the last the server gets.
  const std::vector<std::string> sent = servers.sent();
  ASSERT_FALSE(sent.empty());
  EXPECT_LE(sent.size(), 2u);
  EXPECT_EQ(sent.back(), "ftp://a/ca/mycs.crl=crl2@ftp");
}

TEST_F(QueueTest, WhatWasWaitingIsSentAfterARestart) {
  servers.set_down({"ftp://a/"});
  {
    auto q = open();
    ASSERT_OK(q->enqueue("ftp://a/ca", "1.cnm", "one"));
    ASSERT_OK(q->enqueue("ftp://a/ca", "2.cnm", std::string("two\nlines\0", 10)));
  }
  EXPECT_EQ(spooled(), 2u);
  // A stray file in the spool is put aside, not sent.
  ASSERT_OK(fs::write_atomic(dir + "/00000000000000000009.pub", "garbage", 0600));
  servers.set_down({});
  auto q = open();
  ASSERT_TRUE(q->wait_empty(5s));
  EXPECT_EQ(servers.sent(), (std::vector<std::string>{
                                "ftp://a/ca/1.cnm=one@ftp",
                                "ftp://a/ca/2.cnm=" + std::string("two\nlines\0", 10) + "@ftp"}));
  EXPECT_TRUE(fs::exists(dir + "/00000000000000000009.pub.bad"));
  // New copies do not reuse a number from before.
  ASSERT_OK(q->enqueue("ftp://a/ca", "3.cnm", "three"));
  ASSERT_TRUE(q->wait_empty(5s));
  EXPECT_EQ(servers.sent().back(), "ftp://a/ca/3.cnm=three@ftp");
}

TEST_F(QueueTest, RefusesNamesThatWouldBreakTheSpool) {
  auto q = open();
  EXPECT_CODE(q->enqueue("ftp://a/ca", "x\ny", "d"), Code::kInvalidArgument);
  EXPECT_CODE(q->enqueue("ftp://a/ca", "", "d"), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::files
