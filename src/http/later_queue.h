#pragma once
// Internal to http/ (connection.cpp): the work a network thread does after the rest,
// ServerOptions::ReadyAnswer::soon. One queue per event loop, as an Asio service of that
// io_context, so that only the thread running the loop touches it and the queue dies with
// the loop (its jobs own connections, which must go before the Core they refer to).
//
// One job runs per trip through the loop: a job is run from a handler posted to the loop,
// and the next one is posted only once it is done, behind the completions the loop has
// gathered meanwhile. A request that arrives while a job runs therefore waits for that job
// and at most one more, never for the whole queue (when its bytes arrive whole, as
// Connection::parse_buffered reads them; limits_test.cpp, LaterAnswersRunOnThe...).

#include <deque>
#include <functional>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>

namespace scepter::http::detail {

class LaterQueue : public boost::asio::execution_context::service {
 public:
  using key_type = LaterQueue;
  static inline boost::asio::execution_context::id id;

  explicit LaterQueue(boost::asio::execution_context& owner)
      : boost::asio::execution_context::service(owner) {}

  // The queue of the loop `loop` runs on.
  static LaterQueue& of(const boost::asio::any_io_executor& loop) {
    return boost::asio::use_service<LaterQueue>(
        boost::asio::query(loop, boost::asio::execution::context));
  }

  // On the thread that runs `loop` (the owner of this service): runs `job` on it after
  // what is ready there now.
  void push(const boost::asio::any_io_executor& loop, std::function<void()> job) {
    jobs_.push_back(std::move(job));
    if (jobs_.size() == 1) schedule(loop);
  }

 private:
  void schedule(const boost::asio::any_io_executor& loop) {
    boost::asio::post(loop, [this, loop] {
      if (jobs_.empty()) return;  // dropped by shutdown()
      std::function<void()> job = std::move(jobs_.front());
      try {
        job();
      } catch (...) {
        // Jobs answer their own failures; this only keeps the queue going.
      }
      jobs_.pop_front();
      if (!jobs_.empty()) schedule(loop);
    });
  }

  // The io_context is going away: the jobs (and the connections they own) go now.
  void shutdown() override { jobs_.clear(); }

  // The running job stays at the front until it is done, so that push() from within it
  // does not schedule a second runner.
  std::deque<std::function<void()>> jobs_;
};

}  // namespace scepter::http::detail
