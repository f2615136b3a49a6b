#pragma once
// The set of revoked serials behind CrlBuilder::contains(): an implementation detail of
// CrlBuilder, not for use elsewhere.
//
// An open-addressing hash set (linear probing, backward-shift deletion) of 64-bit values in
// one flat array, kept at most half full. A million serials take 16 MiB here against about
// 40 MiB in std::unordered_set, which allocates a node per value; the difference decides
// whether a CA with a million revocations stays inside its memory budget.
//
// Not thread-safe; const members may be called concurrently.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace scepter::pki {

class SerialSet {
 public:
  // Returns false (and changes nothing) if the value is already present.
  bool insert(std::uint64_t value);
  // Returns false if the value was not present.
  bool erase(std::uint64_t value);
  bool contains(std::uint64_t value) const;
  std::size_t size() const { return size_; }
  // Makes room for `n` values in total without rehashing.
  void reserve(std::size_t n);
  // Heap bytes held.
  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(std::uint64_t); }

 private:
  // A slot holds value + 1, so 0 means empty; the one value that would wrap (2^64-1) is
  // kept aside in has_max_.
  static constexpr std::uint64_t kEmpty = 0;

  std::size_t home(std::uint64_t key) const;
  // Index of the slot holding `key`, or of the empty slot that ends its probe run.
  std::size_t find_slot(std::uint64_t key) const;
  void rehash(std::size_t slot_count);

  std::vector<std::uint64_t> slots_;  // size is 0 or a power of two
  unsigned shift_ = 64;               // 64 - log2(number of 8-slot blocks)
  std::size_t size_ = 0;              // values held, has_max_ included
  bool has_max_ = false;
};

}  // namespace scepter::pki
