#include "pki/crl_serial_set.h"

#include <algorithm>
#include <bit>
#include <utility>

namespace scepter::pki {
namespace {

constexpr std::uint64_t kMax = ~std::uint64_t{0};
constexpr std::size_t kMinSlots = 16;

}  // namespace

std::size_t SerialSet::home(std::uint64_t key) const {
  // Eight consecutive keys share a 64-byte block, so sequential serials (the usual case: a
  // CA numbers its certificates 2, 3, 4...) cost one cache miss per eight; the blocks are
  // spread by Fibonacci hashing, so strided or random serials scatter as well.
  const std::uint64_t block = ((key >> 3) * 0x9E3779B97F4A7C15ull) >> shift_;
  return static_cast<std::size_t>((block << 3) | (key & 7));
}

std::size_t SerialSet::find_slot(std::uint64_t key) const {
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = home(key);
  while (slots_[i] != kEmpty && slots_[i] != key) i = (i + 1) & mask;
  return i;
}

bool SerialSet::contains(std::uint64_t value) const {
  if (value == kMax) return has_max_;
  if (slots_.empty()) return false;
  return slots_[find_slot(value + 1)] != kEmpty;
}

bool SerialSet::insert(std::uint64_t value) {
  if (value == kMax) {
    if (has_max_) return false;
    has_max_ = true;
    ++size_;
    return true;
  }
  if (2 * (size_ + 1) > slots_.size()) {
    rehash(std::max(kMinSlots, 2 * slots_.size()));
  }
  const std::uint64_t key = value + 1;
  const std::size_t i = find_slot(key);
  if (slots_[i] == key) return false;
  slots_[i] = key;
  ++size_;
  return true;
}

bool SerialSet::erase(std::uint64_t value) {
  if (value == kMax) {
    if (!has_max_) return false;
    has_max_ = false;
    --size_;
    return true;
  }
  if (slots_.empty()) return false;
  const std::size_t mask = slots_.size() - 1;
  std::size_t hole = find_slot(value + 1);
  if (slots_[hole] == kEmpty) return false;
  // Backward-shift deletion: pull later members of the probe run into the hole when their
  // home slot does not lie (cyclically) between the hole and where they sit.
  for (std::size_t j = (hole + 1) & mask; slots_[j] != kEmpty; j = (j + 1) & mask) {
    const std::size_t h = home(slots_[j]);
    const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
    if (!stays) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = kEmpty;
  --size_;
  return true;
}

void SerialSet::reserve(std::size_t n) {
  const std::size_t want = std::bit_ceil(std::max(kMinSlots, 2 * n));
  if (want > slots_.size()) rehash(want);
}

void SerialSet::rehash(std::size_t slot_count) {
  std::vector<std::uint64_t> old = std::exchange(slots_, std::vector<std::uint64_t>(slot_count));
  shift_ = 64 + 3 - static_cast<unsigned>(std::countr_zero(slot_count));  // block bits
  for (std::uint64_t key : old) {
    if (key != kEmpty) slots_[find_slot(key)] = key;
  }
}

}  // namespace scepter::pki
