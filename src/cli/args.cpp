#include "cli/args.h"

#include <algorithm>

namespace scepter::cli {

const Args::Entry* Args::find(std::string_view name) const {
  // The last binding wins, so a repeated name reports what was typed last.
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (it->name == name) return &*it;
  }
  return nullptr;
}

std::string_view Args::word(std::string_view name) const {
  const Entry* e = find(name);
  return e ? std::string_view(e->value) : std::string_view();
}

std::int64_t Args::integer(std::string_view name, std::int64_t fallback) const {
  const Entry* e = find(name);
  return e && e->number ? *e->number : fallback;
}

std::optional<std::size_t> Args::offset(std::string_view name) const {
  const Entry* e = find(name);
  if (!e) return std::nullopt;
  return e->offset;
}

void Args::add(std::string name, std::string value, std::size_t offset,
               std::optional<std::int64_t> number) {
  entries_.push_back(Entry{std::move(name), std::move(value), offset, number});
}

std::string Args::masked(std::string_view line,
                         std::initializer_list<std::string_view> names) const {
  std::string out(line);
  // From the last word to the first, so that earlier offsets stay right.
  std::vector<const Entry*> secret;
  for (const Entry& e : entries_) {
    for (std::string_view n : names) {
      if (e.name == n && !e.value.empty()) secret.push_back(&e);
    }
  }
  std::sort(secret.begin(), secret.end(),
            [](const Entry* a, const Entry* b) { return a->offset > b->offset; });
  for (const Entry* e : secret) {
    if (e->offset < out.size())
      out.replace(e->offset, std::min(e->value.size(), out.size() - e->offset), "*****");
  }
  return out;
}

}  // namespace scepter::cli
