#include "parse/registry.hpp"

#include <algorithm>
#include <stdexcept>

#include "parse/probe_util.hpp"

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

probe_shape probe_shape::of(std::string_view head) noexcept {
  probe_shape s;
  if (head.empty()) return s;
  s.brace_at_0 = head[0] == '{' || head[0] == '[';
  s.json = s.brace_at_0 || probe_json_start(head);
  return s;
}

const format_entry* format_registry::detect(std::string_view unit) const noexcept {
  const std::string_view head = unit.substr(0, probe_window);
  return detect(head, probe_shape::of(head), {});
}

const format_entry* format_registry::detect(std::string_view unit, const probe_shape& shape,
                                            std::span<const std::size_t> skip) const noexcept {
  const std::string_view head = unit.substr(0, probe_window);
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const format_entry& e = entries_[i];
    if (!e.probe || !shape.admits(e) || std::find(skip.begin(), skip.end(), i) != skip.end())
      continue;
    if (e.probe(head)) return &e;
  }
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
