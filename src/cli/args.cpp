#include "cli/args.h"

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

}  // namespace scepter::cli
