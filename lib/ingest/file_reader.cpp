#include "ingest/file_reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/assert.hpp"

namespace portscand {

buffer_pool::handle buffer_pool::acquire() {
  std::unique_ptr<buffer> b;
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      b = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (!b) {
    b = std::make_unique<buffer>();
    b->bytes.reset(new char[capacity_]);
  }
  return handle(b.release(), [this](buffer* released) {
    std::lock_guard lock(mu_);
    free_.emplace_back(released);
  });
}

file_reader::file_reader(buffer_pool& pool, std::size_t read_bytes, std::size_t max_unit,
                         bool count_lines)
    : pool_(pool),
      read_bytes_(std::max<std::size_t>(read_bytes, 1)),
      max_unit_(max_unit),
      count_lines_(count_lines) {
  PORTSCAND_ASSERT(pool.capacity() >= buffer_bytes(read_bytes, max_unit),
                   "file_reader buffers too small");
}

ssize_t file_reader::read_some(int fd, const emit_fn& emit) {
  auto buf = pool_.acquire();
  const std::size_t start = carry_.size();
  if (start != 0) std::memcpy(buf->data(), carry_.data(), start);
  ssize_t n;
  do {
    n = ::read(fd, buf->data() + start, read_bytes_);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const int err = errno;
    buf.reset();  // its return to the pool must not change errno
    errno = err;
    return n;  // the carried tail stays
  }
  if (n == 0) return 0;
  carry_.clear();
  process(std::move(buf), start + static_cast<std::size_t>(n), false, emit);
  return n;
}

void file_reader::finish(const emit_fn& emit) {
  if (!carry_.empty()) {
    auto buf = pool_.acquire();
    const std::size_t size = carry_.size();
    std::memcpy(buf->data(), carry_.data(), size);
    carry_.clear();
    process(std::move(buf), size, true, emit);
  }
  reset();
}

void file_reader::reset() {
  mode_ = mode::undecided;
  carry_.clear();
  skipping_ = false;
  line_ = 1;
}

void file_reader::pass(const char* from, const char* to) noexcept {
  if (count_lines_) line_ += static_cast<std::size_t>(std::count(from, to, '\n'));
}

void file_reader::emit_in_place(buffer_pool::handle buf, std::size_t from, std::size_t size,
                                const emit_fn& emit) {
  char* const data = buf->data();
  file_chunk c;
  c.first_line = count_lines_ ? line_ : 0;
  pass(data + from, data + from + size);
  if (from != 0) std::memmove(data, data + from, size);
  std::memset(data + size, ' ', chunk_padding);
  c.data = std::move(buf);
  c.size = size;
  c.documents = mode_ == mode::documents;
  emit(std::move(c));
}

void file_reader::emit_copy(const char* data, std::size_t size, const emit_fn& emit) {
  auto copy = pool_.acquire();
  std::memcpy(copy->data(), data, size);
  emit_in_place(std::move(copy), 0, size, emit);
}

void file_reader::emit_cut(const char* from, const emit_fn& emit) {
  auto unit = pool_.acquire();
  file_chunk c;
  c.first_line = count_lines_ ? line_ : 0;
  pass(from, from + max_unit_ + 1);
  std::memcpy(unit->data(), from, max_unit_ + 1);
  unit->data()[max_unit_ + 1] = '\n';
  c.size = max_unit_ + 2;
  std::memset(unit->data() + c.size, ' ', chunk_padding);
  c.data = std::move(unit);
  // In a documents file the cut document holds line breaks: split as documents, it stays
  // one unit.
  c.documents = mode_ == mode::documents;
  ++cut_units_;
  emit(std::move(c));
}

void file_reader::process(buffer_pool::handle buf, std::size_t filled, bool at_end,
                          const emit_fn& emit) {
  const char* const data = buf->data();
  std::size_t begin = 0;
  if (skipping_) {
    const void* nl = std::memchr(data, '\n', filled);
    if (nl == nullptr) return;  // all of it is the rest of the cut unit
    begin = static_cast<std::size_t>(static_cast<const char*>(nl) - data) + 1;
    pass(data, data + begin);
    skipping_ = false;
  }
  if (mode_ == mode::undecided) {
    // The first non-blank line decides, once it is complete (or the file ends); until then
    // blank lines go out as lines.
    std::size_t first = begin;
    while (first < filled && (data[first] == '\n' || data[first] == '\r' || data[first] == ' ' ||
                              data[first] == '\t'))
      ++first;
    if (first < filled) {
      const void* nl = std::memchr(data + first, '\n', filled - first);
      if (nl != nullptr || at_end || filled - first > max_unit_) {
        // The blank lines before it too, whichever mode it decides: as they would if they
        // had come in reads of their own.
        if (const void* last = ::memrchr(data + begin, '\n', first - begin); last != nullptr) {
          const std::size_t line_start =
              static_cast<std::size_t>(static_cast<const char*>(last) - data) + 1;
          emit_copy(data + begin, line_start - begin, emit);
          begin = line_start;
        }
        const std::size_t line_end =
            nl != nullptr ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : filled;
        mode_ = json_documents::opens_multiline_document(
                    std::string_view(data + first, line_end - first))
                    ? mode::documents
                    : mode::lines;
      }
    }
  }
  if (mode_ == mode::documents) {
    std::size_t end = 0;
    while (true) {
      // A whole unit longer than max_unit is cut too, as if it had come in smaller reads.
      const char* over = nullptr;
      end = begin + json_documents::split(std::string_view(data + begin, filled - begin), at_end,
                                          [&over, this](std::string_view u) {
                                            if (over == nullptr && u.size() > max_unit_)
                                              over = u.data();
                                          });
      if (over == nullptr) break;
      const auto at = static_cast<std::size_t>(over - data);
      if (at > begin) emit_copy(data + begin, at - begin, emit);
      emit_cut(over, emit);
      const std::size_t rest = at + max_unit_ + 1;
      const void* nl = std::memchr(data + rest, '\n', filled - rest);
      if (nl == nullptr) {
        skipping_ = true;  // into the next read
        return;
      }
      begin = static_cast<std::size_t>(static_cast<const char*>(nl) - data) + 1;
      pass(data + rest, data + begin);
    }
    const bool too_large = !at_end && filled - end > max_unit_;
    // The carried tail is copied before the chunk's padding overwrites its first bytes.
    if (!too_large && !at_end) carry_.assign(data + end, data + filled);
    if (end > begin) {
      if (!too_large) {
        emit_in_place(std::move(buf), begin, end - begin, emit);
        return;
      }
      // The over-long tail stays in this buffer: the units before it go out in a copy.
      emit_copy(data + begin, end - begin, emit);
    }
    if (too_large) {
      const char* tail = data + end;
      emit_cut(tail, emit);
      carry_.assign(tail + max_unit_ + 1, data + filled);
      skipping_ = true;
    }
    return;
  }
  std::size_t end = filled;
  if (!at_end) {
    // Up to the last line break; the tail is carried into the next read.
    const void* nl = ::memrchr(data + begin, '\n', filled - begin);
    if (nl == nullptr) {
      // No line break since `begin`: one line, longer than what was read so far.
      if (filled - begin > max_unit_) {
        emit_cut(data + begin, emit);
        skipping_ = true;
      } else {
        carry_.assign(data + begin, data + filled);
      }
      return;
    }
    end = static_cast<std::size_t>(static_cast<const char*>(nl) - data) + 1;
    carry_.assign(data + end, data + filled);
  }
  if (end - begin > max_unit_) {
    // A whole line longer than max_unit is cut too, as if it had come in smaller reads; only
    // a stretch longer than max_unit can hold one.
    std::size_t line = begin;
    while (line < end) {
      const void* nl = std::memchr(data + line, '\n', end - line);
      const std::size_t line_end =
          nl != nullptr ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : end;
      if (line_end - line > max_unit_) {
        if (line > begin) emit_copy(data + begin, line - begin, emit);
        emit_cut(data + line, emit);
        begin = std::min(line_end + 1, end);
        pass(data + line + max_unit_ + 1, data + begin);
      }
      line = line_end + 1;
    }
  }
  if (end > begin) emit_in_place(std::move(buf), begin, end - begin, emit);
}

}  // namespace portscand
