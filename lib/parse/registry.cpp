#include "parse/registry.hpp"

#include <stdexcept>

namespace portscand {

void format_registry::add(format_entry entry) {
  if (find(entry.name) != nullptr) throw std::logic_error("format registered twice: " + entry.name);
  entries_.push_back(std::move(entry));
}

const format_entry* format_registry::find(std::string_view name) const noexcept {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::vector<std::string> format_registry::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.name);
  return out;
}

const format_entry* format_registry::detect(std::string_view unit) const noexcept {
  const std::string_view head = unit.substr(0, probe_window);
  for (const auto& e : entries_)
    if (e.probe && e.probe(head)) return &e;
  return nullptr;
}

const format_registry& builtin_formats() {
  static const format_registry registry = [] {
    format_registry r;
    register_builtin_formats(r);
    return r;
  }();
  return registry;
}

}  // namespace portscand
