#pragma once
// Reserve: the values of one counter (serials or request ids) a node has taken from the
// database in a block and not yet handed out. Not thread-safe: PgStore guards each one
// with a mutex.
//
// A block is taken with one synchronous UPDATE of the counter row (n = n + size), so an
// allocation costs a database round trip only once per block. The size adapts: 1 while
// values are asked for slowly (serials stay consecutive for a single node, as on IOS),
// doubling up to kMaxBlock while each block is used up within kFastBlock of being
// taken. Values of a block a node never hands out (it stopped) are gaps, never reused.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

namespace scepter::store::pg {

class Reserve {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::int64_t kMaxBlock = 64;
  static constexpr Clock::duration kFastBlock = std::chrono::seconds(1);

  // The next value of the block, or nullopt when it is used up.
  std::optional<std::int64_t> take() {
    if (left_ == 0) return std::nullopt;
    const std::int64_t v = next_;
    if (--left_ > 0) ++next_;  // never past the block's last value, which may be the largest
    return v;
  }

  // How many values the next block should hold.
  std::int64_t next_size(Clock::time_point now) const {
    if (size_ == 0 || now - taken_ >= kFastBlock) return 1;
    return std::min(size_ * 2, kMaxBlock);
  }

  // A block of `size` values ending at `last` (the counter row after the UPDATE).
  void refill(std::int64_t last, std::int64_t size, Clock::time_point now) {
    next_ = last - size + 1;
    left_ = size;
    size_ = size;
    taken_ = now;
    seen_ = std::max(seen_, last);
  }

  // A batch of this node stores `value` (explicitly, or one another node handed out):
  // what this reserve hands out afterwards is above it, as a single allocator's values
  // would be. True when the counter row may be below it, so that the batch must raise
  // the row: the row never goes below what this node read from it (blocks are committed
  // synchronously before use).
  bool stored(std::int64_t value) {
    if (left_ > 0 && value >= next_) {
      if (value - next_ >= left_ - 1) {
        left_ = 0;  // at or past the block's last value
      } else {
        left_ -= value - next_ + 1;
        next_ = value + 1;  // below the block's last value
      }
    }
    return value > seen_;
  }

  // Forgets the rest of the block (a value of it was found stored by another node).
  void drop() { left_ = 0; }
  // drop(), and what was read from the row: it may be below that now (another server).
  void forget() {
    left_ = 0;
    seen_ = 0;
  }

 private:
  std::int64_t next_ = 0;  // the next value handed out, if left_ > 0
  std::int64_t left_ = 0;  // values from next_ on, taken and not yet handed out
  std::int64_t seen_ = 0;  // the largest value of the counter row this node read
  std::int64_t size_ = 0;  // of the last block; 0 before the first
  Clock::time_point taken_{};
};

// The largest serial and request id a batch stores, or of those the counter rows may be
// below (what the batch raises them to).
struct Floors {
  std::optional<std::int64_t> serial;
  std::optional<std::int64_t> request;
};

}  // namespace scepter::store::pg
